// Sign up, the activation landing, sign in, and password reset (request and landing): the pages every
// emailed link leads to.
import { useEffect, useState } from '../vendor/htm-preact.js';
import * as api from '../api.js';
import { ErrorNote, Field, Link, Loading, PASSWORD_HINT, html, navigate, useAction, useTitle } from '../ui.js';


/** Only addresses inside this app are followed after sign-in (a link cannot send the visitor elsewhere). */
const safeNext = (next) =>
  next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : '/';

/** Reads a token from the address, then removes it from the address bar and history. */
function useTokenFromAddress(params) {
  const [token] = useState(() => params.get('token') || '');
  useEffect(() => {
    if (params.has('token')) {
      const rest = new URLSearchParams(params);
      rest.delete('token');
      history.replaceState(null, '', location.pathname + (rest.toString() ? `?${rest}` : ''));
    }
  }, []);
  return token;
}

export function SignIn({ params, next }) {
  useTitle('Sign in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [resent, setResent] = useState(false);
  const target = safeNext(next || params?.get('next'));
  const submit = useAction(async (event) => {
    event.preventDefault();
    await api.signIn(email, password);
    navigate(target, { replace: true });
  });
  const resend = useAction(async () => {
    await api.resendActivation(email);
    setResent(true);
  });
  return html`<section class="narrow">
    <h1>Sign in</h1>
    <form onSubmit=${submit.run}>
      <${Field} label="Email" type="email" autocomplete="username" required value=${email}
        onInput=${(e) => setEmail(e.target.value)} />
      <${Field} label="Password" type="password" autocomplete="current-password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit" class="primary" disabled=${submit.busy}>Sign in</button>
      <${ErrorNote} error=${submit.error} />
      ${submit.error?.code === 'ACCOUNT_INACTIVE' &&
      (resent
        ? html`<p role="status">If the account waits for activation, a new link is on its way.</p>`
        : html`<button type="button" class="link" onClick=${resend.run}>Send the activation link again</button>`)}
    </form>
    <p><${Link} href="/forgot-password">Forgot your password?<//> · <${Link} href="/sign-up">Create an account<//></p>
  </section>`;
}

export function SignUp() {
  useTitle('Create an account');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const submit = useAction(async (event) => {
    event.preventDefault();
    await api.register(email, password);
    setDone(true);
  });
  if (done) {
    return html`<section class="narrow"><h1>Check your email</h1>
      <p role="status">We sent a link to <strong>${email}</strong>. Follow it to activate your account.</p></section>`;
  }
  return html`<section class="narrow">
    <h1>Create an account</h1>
    <form onSubmit=${submit.run}>
      <${Field} label="Email" type="email" autocomplete="email" required value=${email}
        onInput=${(e) => setEmail(e.target.value)} />
      <${Field} label="Password" type="password" autocomplete="new-password" required minlength="8" maxlength="72"
        hint=${PASSWORD_HINT} value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit" class="primary" disabled=${submit.busy}>Create account</button>
      <${ErrorNote} error=${submit.error} />
    </form>
    <p>Already have one? <${Link} href="/sign-in">Sign in<//></p>
  </section>`;
}

/** The activation link's landing: activates at once, or first asks for a password when the link says so. */
export function Activate({ params }) {
  useTitle('Activate your account');
  const token = useTokenFromAddress(params);
  const choosePassword = params.get('choosePassword') === 'true';
  const [done, setDone] = useState(false);
  const submit = useAction(async (password) => {
    await api.activate(token, choosePassword ? password : undefined);
    setDone(true);
  });
  useEffect(() => {
    if (token && !choosePassword) submit.run();
  }, []);
  if (!token) return html`<section class="narrow"><h1>Activate your account</h1><p>This link has no token.</p></section>`;
  if (done) {
    return html`<section class="narrow"><h1>Your account is active</h1>
      <p role="status">Welcome! <${Link} href="/sign-in">Sign in<//> to start.</p></section>`;
  }
  if (!choosePassword) {
    return html`<section class="narrow"><h1>Activate your account</h1>
      ${submit.busy && html`<${Loading} what="Activating" />`}
      <${ErrorNote} error=${submit.error} />
      ${submit.error && html`<p>Links work once and expire: <${Link} href="/sign-in">sign in<//> to ask for a new one.</p>`}
    </section>`;
  }
  return html`<section class="narrow">
    <h1>Choose a password</h1>
    <${NewPasswordForm} submit=${submit} action="Activate" />
  </section>`;
}

/** The form of the links that set a password (activation that asks for one, reset): one field, one button. */
function NewPasswordForm({ submit, action, disabled = false }) {
  const [password, setPassword] = useState('');
  return html`<form onSubmit=${(event) => (event.preventDefault(), submit.run(password))}>
    <${Field} label="New password" type="password" autocomplete="new-password" required minlength="8"
      maxlength="72" hint=${PASSWORD_HINT} value=${password} onInput=${(e) => setPassword(e.target.value)} />
    <button type="submit" class="primary" disabled=${submit.busy || disabled}>${action}</button>
    <${ErrorNote} error=${submit.error} />
  </form>`;
}

export function ForgotPassword() {
  useTitle('Reset your password');
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const submit = useAction(async (event) => {
    event.preventDefault();
    await api.requestPasswordReset(email);
    setSent(true);
  });
  return html`<section class="narrow">
    <h1>Reset your password</h1>
    ${sent
      ? html`<p role="status">If an account uses ${email}, a link to choose a new password is on its way.</p>`
      : html`<form onSubmit=${submit.run}>
          <${Field} label="Email" type="email" autocomplete="email" required value=${email}
            onInput=${(e) => setEmail(e.target.value)} />
          <button type="submit" class="primary" disabled=${submit.busy}>Send the link</button>
          <${ErrorNote} error=${submit.error} />
        </form>`}
  </section>`;
}

export function ResetPassword({ params }) {
  useTitle('Choose a new password');
  const token = useTokenFromAddress(params);
  const [done, setDone] = useState(false);
  const submit = useAction(async (password) => {
    await api.completePasswordReset(token, password);
    setDone(true);
  });
  if (done) {
    return html`<section class="narrow"><h1>Password changed</h1>
      <p role="status">You were signed out everywhere. <${Link} href="/sign-in">Sign in<//> with the new password.</p></section>`;
  }
  return html`<section class="narrow">
    <h1>Choose a new password</h1>
    <${NewPasswordForm} submit=${submit} action="Change password" disabled=${!token} />
  </section>`;
}
