// Users (roles and activation) and failed jobs: the admin's pages.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import * as Q from './queries.js';
import { ErrorNote, Loading, formatDate, html, useAction, useLoad, useTitle } from '../ui.js';

export function StaffUsers({ viewer }) {
  useTitle('Staff · Users');
  const [filter, setFilter] = useState({ emailContains: '', role: '', isActive: '' });
  const list = useLoad(
    () =>
      gql(Q.USERS, {
        emailContains: filter.emailContains.trim() || null,
        role: filter.role || null,
        isActive: filter.isActive === '' ? null : filter.isActive === 'true',
      }).then((d) => d.users),
    [JSON.stringify(filter)],
  );
  const set = (name) => (event) => setFilter({ ...filter, [name]: event.target.value });
  return html`<h1>Users</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <div class="field grow"><label for="user-email">Email contains</label>
        <input id="user-email" type="search" value=${filter.emailContains} onInput=${set('emailContains')} /></div>
      <div class="field"><label for="user-role">Role</label>
        <select id="user-role" value=${filter.role} onChange=${set('role')}>
          <option value="">Any</option><option>USER</option><option>MODERATOR</option><option>ADMIN</option></select></div>
      <div class="field"><label for="user-active">Active</label>
        <select id="user-active" value=${filter.isActive} onChange=${set('isActive')}>
          <option value="">Any</option><option value="true">Active</option><option value="false">Not active</option></select></div>
    </form>
    <${ErrorNote} error=${list.error} />
    ${list.loading && !list.data && html`<${Loading} />`}
    ${list.data &&
    html`<p role="status">${list.data.totalCount} users</p>
      <table class="staff"><thead><tr><th scope="col">Email</th><th scope="col">Joined</th><th scope="col">Role</th>
        <th scope="col">Account</th></tr></thead>
      <tbody>${list.data.nodes.map((u) => html`<${UserRow} key=${u.id} user=${u} self=${u.id === viewer.id} />`)}</tbody></table>`}`;
}

function UserRow({ user, self }) {
  const [state, setState] = useState(user);
  const role = useAction(async (value) => setState({ ...state, ...(await gql(Q.SET_ROLE, { id: state.id, role: value })).setUserRole }));
  const active = useAction(async (value) => {
    if (!value && !confirm(`Disable ${state.email}? They are signed out everywhere.`)) return;
    setState({ ...state, ...(await gql(Q.SET_ACTIVE, { id: state.id, active: value })).setUserActive });
  });
  return html`<tr>
    <td>${state.email}${self && html` <span class="muted">(you)</span>`}</td>
    <td>${formatDate(state.createdAt)}</td>
    <td><label class="visually-hidden" for=${`role-${state.id}`}>Role of ${state.email}</label>
      <select id=${`role-${state.id}`} value=${state.role} disabled=${role.busy}
        onChange=${(e) => role.run(e.target.value)}>
        <option>USER</option><option>MODERATOR</option><option>ADMIN</option></select>
      <${ErrorNote} error=${role.error} /></td>
    <td>${state.isActive ? 'active' : state.disabledAt ? 'disabled' : 'not activated'}
      <button type="button" class="link" disabled=${active.busy} onClick=${() => active.run(!state.isActive)}>
        ${state.isActive ? 'Disable' : 'Activate'}</button>
      <${ErrorNote} error=${active.error} /></td>
  </tr>`;
}

export function StaffJobs() {
  useTitle('Staff · Jobs');
  const [status, setStatus] = useState('FAILED');
  const list = useLoad(() => gql(Q.JOBS, { status }).then((d) => d.jobs), [status]);
  return html`<h1>Jobs</h1>
    <div class="field narrow"><label for="job-status">Status</label>
      <select id="job-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option>FAILED</option><option>QUEUED</option><option>RUNNING</option><option>SUCCEEDED</option></select></div>
    <${ErrorNote} error=${list.error} />
    ${list.data &&
    (list.data.length === 0
      ? html`<p>No ${status.toLowerCase()} jobs.</p>`
      : html`<table class="staff"><thead><tr><th scope="col">Kind</th><th scope="col">Attempts</th>
          <th scope="col">Last error</th><th scope="col">Updated</th></tr></thead>
          <tbody>${list.data.map((j) => html`<tr key=${j.id}><td>${j.kind}</td><td>${j.attempts} / ${j.maxAttempts}</td>
            <td>${j.lastError || '—'}</td><td>${formatDate(j.updatedAt)}</td></tr>`)}</tbody></table>`)}`;
}
