// Small pieces every page uses: navigation, loading state, errors, posters, form fields.
import { html, useEffect, useState, useRef } from './vendor/htm-preact.js';

export { html };

// ---- navigation (the History API; the server answers every page's address with the same shell)

const routeListeners = new Set();
export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  routeListeners.forEach((listener) => listener());
  window.scrollTo(0, 0);
}
window.addEventListener('popstate', () => routeListeners.forEach((listener) => listener()));

/** The current location, re-rendering on every navigation. */
export function useLocation() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((tick) => tick + 1);
    routeListeners.add(listener);
    return () => routeListeners.delete(listener);
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** A link that navigates inside the app (and still opens in a new tab when asked to). */
export function Link({ href, children, onClick: alsoOnClick, ...rest }) {
  const onClick = (event) => {
    alsoOnClick?.(event);
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

// ---- data

/** Runs `load()` when `deps` change: { data, error, loading, reload, setData }. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true, error: null }));
    load().then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState({ data: null, error, loading: false }),
    );
    return () => (current = false);
  }, [...deps, version]);
  return {
    ...state,
    reload: () => setVersion((v) => v + 1),
    setData: (data) => setState((previous) => ({ ...previous, data })),
  };
}

/** Wraps an action: { run, busy, error } — the error shown next to the control that failed. */
export function useAction(action) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await action(...args);
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

// ---- display

/** The password rule, as the API checks it (shown under every new-password field). */
export const PASSWORD_HINT = '8 to 72 characters, with upper and lower case letters, a digit and a special character.';

const MESSAGES = {
  UNAUTHENTICATED: 'Please sign in first.',
  RATE_LIMITED: 'Too many requests: wait a moment and try again.',
  INVALID_CREDENTIALS: 'That email and password do not match an active account.',
  ACCOUNT_INACTIVE: 'This account is not activated yet: follow the link in the email we sent.',
  DISCONNECTED: 'The live connection ended; reload the page to see the latest status.',
  WRONG_PASSWORD: 'The current password is not right.',
  TOKEN_EXPIRED: 'Your session ended: please sign in again.',
  SESSION_REVOKED: 'Your session ended: please sign in again.',
  ACCOUNT_DISABLED: 'This account is disabled.',
  FORBIDDEN: 'Your account may not do this.',
  NOT_FOUND: 'It is not there any more.',
  CART_EMPTY: 'Your cart is empty.',
  NOTHING_TO_ORDER: 'Nothing in your cart can be ordered right now (see the notes on each line).',
  ORDER_PAID: 'This order is paid already.',
  ORDER_CLOSED: 'This order is closed (canceled or refunded).',
  TOO_MANY_PENDING_ORDERS: 'You have too many orders waiting for payment: pay or cancel one first.',
  TOO_MANY_CHECKOUT_ATTEMPTS: 'This order was sent to checkout too many times: cancel it and order again.',
  SERVICE_UNAVAILABLE: 'The payment provider did not answer. Nothing was charged; try again in a moment.',
  PROVIDER_REFUSED: 'The payment provider refused this.',
  REFUND_REQUESTED: 'A refund is already asked for or under way.',
  REFUND_DECLINED_RECENTLY: 'A refund of this order was declined recently: you can ask again later.',
  CART_FULL: 'Your cart is full (100 movies): order or remove some first.',
  PAYMENT_UNDER_REVIEW: 'The payment is being checked by our staff.',
  ALREADY_REFUNDED: 'This payment is refunded already.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on our side; please try again.',
};

export function ErrorNote({ error }) {
  if (!error) return null;
  const text = MESSAGES[error.code] || error.message || String(error);
  return html`<p class="error" role="alert">${text}</p>`;
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" role="status" aria-live="polite">${what}…</p>`;
}

export function Poster({ poster, name, className = '' }) {
  if (!poster) return null;
  return html`<img class=${`poster ${className}`} src=${poster.url} width=${poster.width} height=${poster.height}
    alt=${`Poster of ${name}`} loading="lazy" decoding="async" />`;
}

let fieldIds = 0;
/** A labelled input; `hint` is read out with it. */
export function Field({ label, hint, ...input }) {
  const id = useRef(`field-${++fieldIds}`).current;
  const hintId = hint ? `${id}-hint` : undefined;
  const control =
    input.type === 'textarea'
      ? html`<textarea id=${id} aria-describedby=${hintId} ...${input}></textarea>`
      : html`<input id=${id} aria-describedby=${hintId} ...${input} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${control}
    ${hint && html`<small id=${hintId} class="muted">${hint}</small>`}
  </div>`;
}

/** Calls `onVisible` when the element scrolls into view: infinite scroll on cursors. */
export function MoreWhenVisible({ onVisible, busy }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || busy) return undefined;
    const observer = new IntersectionObserver((entries) => entries[0].isIntersecting && onVisible(), {
      rootMargin: '400px',
    });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [onVisible, busy]);
  return html`<div ref=${ref} class="more">
    <button type="button" onClick=${onVisible} disabled=${busy}>${busy ? 'Loading…' : 'Show more'}</button>
  </div>`;
}

export const formatDate = (value) =>
  value ? new Date(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';

/** Sets the document title (what a screen reader announces after navigation). */
export function useTitle(title) {
  useEffect(() => {
    document.title = title ? `${title} · Cinema` : 'Cinema';
  }, [title]);
}

/** Tells the shell that something it shows (cart count, unread notifications) may have changed. */
export const changed = () => window.dispatchEvent(new Event('cinema:changed'));
