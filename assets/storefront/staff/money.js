// Refund requests to grant or decline, payments that need a decision, and (for admins) every order and
// payment with filters.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import * as Q from './queries.js';
import { ErrorNote, Field, Loading, formatDate, html, useAction, useLoad, useTitle } from '../ui.js';

function PaymentRow({ payment, onChange, decide = true }) {
  const [reason, setReason] = useState('');
  const refund = useAction(async () => {
    if (!confirm(`Refund ${payment.amount.formatted} to the buyer?`)) return;
    onChange((await gql(Q.REFUND_PAYMENT, { id: payment.id, reason: reason.trim() })).refundPayment);
  });
  const decline = useAction(async () => {
    await gql(Q.DECLINE_REFUND, { id: payment.refund.id, reason: reason.trim() });
    onChange(null);
  });
  const accept = useAction(async () => onChange((await gql(Q.ACCEPT_PAYMENT, { id: payment.id })).acceptPayment));
  const asked = payment.refund?.status === 'REQUESTED';
  return html`<li>
    <div class="grow">
      <p><strong>${payment.amount.formatted}</strong> · ${payment.status} · order <code>${payment.orderId}</code></p>
      <p class="muted">buyer <code>${payment.userId}</code> · ${formatDate(payment.createdAt)}
        ${payment.amountReceived && html` · received ${payment.amountReceived.formatted}`}
        ${payment.needsReview && html` · <strong class="warning">needs review</strong>`}</p>
      ${payment.refund && html`<p>Refund ${payment.refund.status}${payment.refund.reason ? `: “${payment.refund.reason}”` : ''}
        ${payment.refund.decisionReason ? ` — ${payment.refund.decisionReason}` : ''}</p>`}
      ${decide && (asked || payment.needsReview) &&
      html`<div class="inline-form">
        <${Field} label="Reason (sent to the buyer)" maxlength="500" value=${reason} onInput=${(e) => setReason(e.target.value)} />
        <button type="button" class="primary" onClick=${refund.run} disabled=${refund.busy || !reason.trim()}>Refund</button>
        ${asked && html`<button type="button" onClick=${decline.run} disabled=${decline.busy || !reason.trim()}>Decline</button>`}
        ${payment.needsReview && payment.status === 'SUCCEEDED' &&
        html`<button type="button" onClick=${accept.run} disabled=${accept.busy}>Accept what arrived</button>`}
      </div>`}
      <${ErrorNote} error=${refund.error || decline.error || accept.error} />
    </div>
  </li>`;
}

export function StaffRefunds() {
  useTitle('Staff · Refund requests');
  const list = useLoad(() => gql(Q.REFUND_REQUESTS).then((d) => d.refundRequests), []);
  if (list.loading && !list.data) return html`<${Loading} />`;
  if (list.error) return html`<${ErrorNote} error=${list.error} />`;
  return html`<h1>Refund requests</h1>
    ${list.data.nodes.length === 0 && html`<p>No refund waits for a decision.</p>`}
    <ul class="lines">
      ${list.data.nodes.map((p) => html`<${PaymentRow} key=${p.id} payment=${p} onChange=${list.reload} />`)}
    </ul>`;
}

const STATUSES = { orders: ['PENDING', 'PAID', 'CANCELED', 'REFUNDED'], payments: ['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'REFUNDED'] };

/** Status and date filters as the admin reports take them (dates in UTC, whole days). */
function ReportFilters({ kind, filter, onChange, extra }) {
  const set = (name) => (event) => onChange({ ...filter, [name]: event.target.value });
  return html`<form class="filters" onSubmit=${(e) => e.preventDefault()}>
    <div class="field"><label for=${`${kind}-status`}>Status</label>
      <select id=${`${kind}-status`} value=${filter.status} onChange=${set('status')}>
        <option value="">Any</option>${STATUSES[kind].map((s) => html`<option value=${s}>${s}</option>`)}
      </select></div>
    <${Field} label="From (UTC)" type="date" value=${filter.from} onInput=${set('from')} />
    <${Field} label="To (UTC)" type="date" value=${filter.to} onInput=${set('to')} />
    ${extra}
  </form>`;
}

function reportFilter(filter) {
  const out = {};
  if (filter.status) out.status = filter.status;
  if (filter.from) out.from = `${filter.from}T00:00:00Z`;
  if (filter.to) out.to = `${filter.to}T23:59:59Z`;
  return out;
}

export function StaffOrders() {
  useTitle('Staff · Orders');
  const [filter, setFilter] = useState({ status: '', from: '', to: '' });
  const report = useLoad(() => gql(Q.ORDERS, { filter: reportFilter(filter) }).then((d) => d.allOrders), [JSON.stringify(filter)]);
  return html`<h1>Orders</h1>
    <${ReportFilters} kind="orders" filter=${filter} onChange=${setFilter} />
    <${ErrorNote} error=${report.error} />
    ${report.data &&
    html`<p role="status">${report.data.count} orders · ${report.data.totalAmount.formatted}</p>
      <table class="staff"><thead><tr><th scope="col">Placed</th><th scope="col">Status</th><th scope="col">Total</th>
        <th scope="col">Movies</th><th scope="col">Buyer</th></tr></thead>
        <tbody>${report.data.orders.nodes.map(
          (o) => html`<tr key=${o.id}><td>${formatDate(o.createdAt)}</td><td>${o.status}</td><td>${o.total.formatted}</td>
            <td>${o.lines.map((l) => l.movie.name).join(', ')}</td><td><code>${o.userId}</code></td></tr>`,
        )}</tbody></table>`}`;
}

export function StaffPayments() {
  useTitle('Staff · Payments');
  const [filter, setFilter] = useState({ status: '', from: '', to: '', needsReview: false });
  const key = JSON.stringify(filter);
  const list = useLoad(
    () => gql(Q.PAYMENTS, { filter: { ...reportFilter(filter), needsReview: filter.needsReview } }).then((d) => d.allPayments),
    [key],
  );
  return html`<h1>Payments</h1>
    <${ReportFilters} kind="payments" filter=${filter} onChange=${setFilter} extra=${html`
      <label class="check"><input type="checkbox" checked=${filter.needsReview}
        onChange=${(e) => setFilter({ ...filter, needsReview: e.target.checked })} /> Only those needing review</label>`} />
    <${ErrorNote} error=${list.error} />
    ${list.data &&
    html`<p role="status">${list.data.totalCount} payments</p>
      <ul class="lines">${list.data.nodes.map((p) => html`<${PaymentRow} key=${p.id} payment=${p} onChange=${list.reload} />`)}</ul>`}`;
}
