// Orders: the list, and one order — paying it (the checkout), its status live while a payment lands, and
// asking for a refund.
import { useEffect, useState } from '../vendor/htm-preact.js';
import { gql, subscribe } from '../api.js';
import * as Q from '../queries.js';
import {
  ErrorNote, Field, Link, Loading, MoreWhenVisible, changed, formatDate, html, useAction, useLoad, useTitle,
} from '../ui.js';

const STATUS = { PENDING: 'Waiting for payment', PAID: 'Paid', CANCELED: 'Canceled', REFUNDED: 'Refunded' };

export function Orders() {
  useTitle('Your orders');
  const [pages, setPages] = useState([]);
  const first = useLoad(() => gql(Q.ORDERS).then((data) => data.orders), []);
  const last = pages[pages.length - 1] || first.data;
  const more = useAction(async () => setPages([...pages, (await gql(Q.ORDERS, { after: last.pageInfo.endCursor })).orders]));
  if (first.loading && !first.data) return html`<${Loading} what="Loading your orders" />`;
  if (first.error) return html`<${ErrorNote} error=${first.error} />`;
  const orders = [first.data, ...pages].flatMap((page) => page.nodes);
  return html`<h1>Your orders</h1>
    ${orders.length === 0 && html`<p>No orders yet. <${Link} href="/">Browse the catalog<//></p>`}
    <ul class="lines">
      ${orders.map(
        (o) => html`<li key=${o.id}>
          <div class="grow"><${Link} href=${`/orders/${o.id}`}>Order of ${formatDate(o.createdAt)}<//>
            <p class="muted">${o.lines.map((l) => l.movie.name).join(', ')}</p></div>
          <span class=${`status ${o.status.toLowerCase()}`}>${STATUS[o.status]}</span>
          <span class="price">${o.total.formatted}</span>
        </li>`,
      )}
    </ul>
    ${last?.pageInfo.hasNextPage && html`<${MoreWhenVisible} onVisible=${more.run} busy=${more.busy} />`}
    <${ErrorNote} error=${more.error} />`;
}

export function OrderPage({ id, params }) {
  useTitle('Order');
  const [order, setOrder] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState(false);
  const returned = params.get('checkout');
  // The order as it is now, then each change of its status, over the subscription.
  // Should the live connection fail (a proxy that does not pass WebSockets), the order is read once instead.
  useEffect(() => {
    let current = true;
    setLive(true);
    const stop = subscribe(Q.ORDER_STATUS, { id }, (data) => setOrder(data.orderStatusChanged), (ended) => {
      setLive(false);
      if (!ended || !current) return;
      setError(ended);
      gql(Q.ORDER, { id }).then((data) => current && setOrder((known) => known || data.order), () => {});
    });
    return () => {
      current = false;
      stop();
    };
  }, [id]);
  useEffect(() => {
    if (order?.status === 'PAID') changed();
  }, [order?.status]);
  if (!order) return error ? html`<${ErrorNote} error=${error} />` : html`<${Loading} what="Loading the order" />`;
  return html`<h1>Order of ${formatDate(order.createdAt)}</h1>
    ${returned === 'success' && order.status === 'PENDING' &&
    html`<p class="notice" role="status">Thank you! We are waiting for the payment to be confirmed…</p>`}
    ${returned === 'canceled' && order.status === 'PENDING' &&
    html`<p class="notice" role="status">The checkout was canceled; nothing was charged.</p>`}
    <p>Status: <strong class=${`status ${order.status.toLowerCase()}`} aria-live="polite" data-testid="order-status">
      ${STATUS[order.status]}</strong>
      ${live && html` <span class="muted">(updates live)</span>`}</p>
    ${order.paymentHint && html`<p class="warning">${order.paymentHint}</p>`}
    <ul class="lines">
      ${order.lines.map(
        (line) => html`<li key=${line.movie.id}>
          <div class="grow"><${Link} href=${`/movies/${line.movie.id}`}>${line.movie.name} (${line.movie.year})<//></div>
          <span class="price">${(line.chargedPrice || line.price).formatted}</span></li>`,
      )}
    </ul>
    <p class="total">Total <strong>${(order.chargedTotal || order.total).formatted}</strong></p>
    <${ErrorNote} error=${error} />
    ${order.status === 'PENDING' && html`<${Pay} order=${order} onChange=${setOrder} />`}
    ${order.status === 'PAID' && html`<${Refund} order=${order} />`}
    <p><${Link} href="/orders">All your orders<//></p>`;
}

function Pay({ order, onChange }) {
  const [priceChange, setPriceChange] = useState(null);
  const pay = useAction(async (accept = false) => {
    try {
      const payment = (await gql(Q.PAY_ORDER, { id: order.id, accept })).payOrder;
      location.assign(payment.checkoutUrl);
    } catch (error) {
      if (error.code !== 'PRICE_CHANGED') throw error;
      setPriceChange(error.extensions);
    }
  });
  const cancel = useAction(async () => {
    if (!confirm('Cancel this order?')) return;
    onChange((await gql(Q.CANCEL_ORDER, { id: order.id })).cancelOrder);
    changed();
  });
  return html`<div class="buy">
    ${priceChange
      ? html`<p class="warning" role="alert">Prices changed since you ordered: the total is now
          ${priceChange.chargedTotal?.formatted || priceChange.chargedTotal}.</p>
        <button type="button" class="primary" onClick=${() => pay.run(true)} disabled=${pay.busy}>Pay the new total</button>`
      : html`<button type="button" class="primary" onClick=${() => pay.run(false)} disabled=${pay.busy}>Pay now</button>`}
    <button type="button" onClick=${cancel.run} disabled=${cancel.busy}>Cancel order</button>
    <${ErrorNote} error=${pay.error || cancel.error} />
  </div>`;
}

function Refund({ order }) {
  const payments = useLoad(() => gql(Q.ORDER_PAYMENTS).then((data) => data.payments.nodes), [order.id]);
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState(false);
  const ask = useAction(async (event) => {
    event.preventDefault();
    await gql(Q.REQUEST_REFUND, { id: order.id, reason });
    setOpen(false);
    payments.reload();
  });
  const refund = payments.data?.find((p) => p.orderId === order.id && p.refund)?.refund;
  if (refund) {
    const said = { REQUESTED: 'Refund requested: staff will decide soon.', PENDING: 'Refund under way.',
      SUCCEEDED: 'Refunded.', REJECTED: `Refund declined${refund.decisionReason ? `: ${refund.decisionReason}` : '.'}`,
      FAILED: 'The refund failed; staff have been told.' };
    return html`<p class="notice">${said[refund.status] || refund.status}</p>`;
  }
  return open
    ? html`<form onSubmit=${ask.run}>
        <${Field} type="textarea" label="Why do you want a refund?" required maxlength="1000" value=${reason}
          onInput=${(e) => setReason(e.target.value)} />
        <button type="submit" disabled=${ask.busy || !reason.trim()}>Ask for a refund</button>
        <${ErrorNote} error=${ask.error} />
      </form>`
    : html`<button type="button" onClick=${() => setOpen(true)}>Ask for a refund</button>`;
}
