// The viewer's profile: names, birthday, gender, a few words, and the avatar.
import { useState } from '../vendor/htm-preact.js';
import { changePassword, gql, upload } from '../api.js';
import { PROFILE, REMOVE_AVATAR, UPDATE_PROFILE, UPLOAD_AVATAR } from '../queries.js';
import { ErrorNote, Field, Loading, PASSWORD_HINT, changed, html, useAction, useLoad, useTitle } from '../ui.js';

export function Profile() {
  useTitle('Your profile');
  const me = useLoad(() => gql(PROFILE).then((data) => data.me), []);
  if (me.loading && !me.data) return html`<${Loading} what="Loading your profile" />`;
  if (me.error) return html`<${ErrorNote} error=${me.error} />`;
  return html`<h1>Your profile</h1>
    <p class="muted">${me.data.email}</p>
    <${Avatar} profile=${me.data.profile} onChange=${(profile) => me.setData({ ...me.data, profile })} />
    <${ProfileForm} key=${me.data.profile.updatedAt} profile=${me.data.profile}
      onChange=${(profile) => me.setData({ ...me.data, profile })} />
    <${PasswordForm} />`;
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const change = useAction(async (event) => {
    event.preventDefault();
    await changePassword(current, next);
    setCurrent('');
    setNext('');
    setDone(true);
  });
  return html`<form class="narrow" onSubmit=${change.run} aria-labelledby="password-title">
    <h2 id="password-title">Change your password</h2>
    <${Field} label="Current password" type="password" autocomplete="current-password" required value=${current}
      onInput=${(e) => (setDone(false), setCurrent(e.target.value))} />
    <${Field} label="New password" type="password" autocomplete="new-password" required minlength="8" maxlength="72"
      hint=${PASSWORD_HINT} value=${next}
      onInput=${(e) => (setDone(false), setNext(e.target.value))} />
    <button type="submit" disabled=${change.busy}>Change password</button>
    ${done && html`<span role="status"> Changed. Your other devices were signed out.</span>`}
    <${ErrorNote} error=${change.error} />
  </form>`;
}

function Avatar({ profile, onChange }) {
  const send = useAction(async (file) => {
    onChange((await upload(UPLOAD_AVATAR, {}, 'file', file)).uploadAvatar);
    changed();
  });
  const remove = useAction(async () => onChange((await gql(REMOVE_AVATAR)).removeAvatar));
  return html`<div class="avatar-row">
    ${profile.avatarUrl
      ? html`<img class="avatar" src=${profile.avatarUrl} alt="Your avatar" width="96" height="96" />`
      : html`<div class="avatar empty" aria-hidden="true">?</div>`}
    <div>
      <label for="avatar">Avatar (PNG, JPEG or WebP)</label>
      <input id="avatar" type="file" accept="image/png,image/jpeg,image/webp"
        onChange=${(e) => e.target.files[0] && send.run(e.target.files[0])} />
      ${profile.avatarUrl && html`<button type="button" class="link danger" onClick=${remove.run}>Remove avatar</button>`}
      ${send.busy && html`<span role="status">Uploading…</span>`}
      <${ErrorNote} error=${send.error || remove.error} />
    </div>
  </div>`;
}

function ProfileForm({ profile, onChange }) {
  const [form, setForm] = useState({
    firstName: profile.firstName || '',
    lastName: profile.lastName || '',
    dateOfBirth: profile.dateOfBirth || '',
    gender: profile.gender || '',
    info: profile.info || '',
  });
  const [saved, setSaved] = useState(false);
  const set = (name) => (event) => (setSaved(false), setForm({ ...form, [name]: event.target.value }));
  const save = useAction(async (event) => {
    event.preventDefault();
    const input = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v === '' ? null : v]));
    onChange((await gql(UPDATE_PROFILE, { input })).updateProfile);
    setSaved(true);
    changed();
  });
  return html`<form class="narrow" onSubmit=${save.run}>
    <${Field} label="First name" autocomplete="given-name" maxlength="100" value=${form.firstName} onInput=${set('firstName')} />
    <${Field} label="Last name" autocomplete="family-name" maxlength="100" value=${form.lastName} onInput=${set('lastName')} />
    <${Field} label="Date of birth" type="date" value=${form.dateOfBirth} onInput=${set('dateOfBirth')} />
    <div class="field">
      <label for="gender">Gender</label>
      <select id="gender" value=${form.gender} onChange=${set('gender')}>
        <option value="">Not said</option><option value="FEMALE">Female</option>
        <option value="MALE">Male</option><option value="OTHER">Other</option>
      </select>
    </div>
    <${Field} type="textarea" label="About you" maxlength="1000" value=${form.info} onInput=${set('info')} />
    <button type="submit" class="primary" disabled=${save.busy}>Save</button>
    ${saved && html`<span role="status"> Saved.</span>`}
    <${ErrorNote} error=${save.error} />
  </form>`;
}
