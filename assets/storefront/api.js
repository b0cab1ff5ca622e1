// The storefront's only way to the server: the public API, as any single-page app would use it.
// - Sign-in, refresh and sign-out over REST; the refresh token lives in an HttpOnly cookie the page cannot
//   read, and the access token only in this module's memory (a reload refreshes it from the cookie).
// - GraphQL over HTTP with persisted queries: the hash alone first, the text only when the server asks for it.
//   Reads go as GET, so the browser and the server's response cache can keep anonymous answers.
// - graphql-transport-ws for live order status.

const AUTH = '/api/v1/auth';
const session = { token: null, expiresAt: 0, refreshing: null };
const listeners = new Set();

/** A refusal from the server, with its stable code (`UNAUTHENTICATED`, `CONFLICT`, …) and its details. */
export class ApiError extends Error {
  constructor(code, message, extensions = {}) {
    super(message || code);
    this.code = code;
    this.extensions = extensions;
  }
}

/** Calls `listener(signedIn)` whenever the session starts or ends. */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const signedIn = () => session.token !== null;

function keep(answer) {
  const wasSignedIn = signedIn();
  session.token = answer ? answer.accessToken : null;
  // Refresh a little before the server would refuse the token.
  session.expiresAt = answer ? Date.now() + (answer.expiresIn - 30) * 1000 : 0;
  if (wasSignedIn !== signedIn()) listeners.forEach((listener) => listener(signedIn()));
}

async function auth(path, body, token) {
  const headers = { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(AUTH + path, {
    method: 'POST',
    credentials: 'same-origin',
    headers,
    body: JSON.stringify(body ?? {}),
  });
  const text = await response.text();
  const answer = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(answer.code || `HTTP_${response.status}`, answer.detail || answer.title);
  return answer;
}

export async function signIn(email, password) {
  keep(await auth('/login', { email, password, refreshTokenIn: 'cookie' }));
}

export const register = (email, password) => auth('/register', { email, password });
export const activate = (token, password) => auth('/activate', password ? { token, password } : { token });
export const resendActivation = (email) => auth('/activation/resend', { email });
export const requestPasswordReset = (email) => auth('/password/reset/request', { email });
export const completePasswordReset = (token, newPassword) =>
  auth('/password/reset/complete', { token, newPassword });

/** Changes the signed-in user's password; their other sessions end, this one stays. */
export async function changePassword(oldPassword, newPassword) {
  await auth('/password/change', { oldPassword, newPassword }, await bearer());
}

/** Gets a new access token from the refresh cookie; false when there is no session to resume. */
export function resume() {
  session.refreshing ??= auth('/refresh', {})
    .then((answer) => (keep(answer), true))
    .catch(() => (keep(null), false))
    .finally(() => (session.refreshing = null));
  return session.refreshing;
}

export async function signOut() {
  try {
    await auth('/logout', {});
  } finally {
    keep(null);
  }
}

async function bearer() {
  if (session.token && Date.now() >= session.expiresAt) await resume();
  return session.token;
}

// Persisted queries: the SHA-256 of each text, computed once. Browsers give `crypto.subtle` only to secure
// pages (https, or localhost): elsewhere the text goes with every request.
const hashes = new Map();
async function hashOf(text) {
  if (!globalThis.crypto?.subtle) return null;
  if (!hashes.has(text)) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    hashes.set(text, [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return hashes.get(text);
}

async function send(method, payload, token) {
  const headers = { Accept: 'application/graphql-response+json, application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  if (method === 'GET') {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(payload)) {
      if (value !== undefined) params.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    response = await fetch(`/graphql?${params}`, { headers, credentials: 'omit' });
  } else {
    headers['Content-Type'] = 'application/json';
    response = await fetch('/graphql', { method, headers, credentials: 'omit', body: JSON.stringify(payload) });
  }
  const answer = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (response.status === 429) {
    return { errors: [{ message: 'Too many requests: wait a moment.', extensions: { code: 'RATE_LIMITED' } }] };
  }
  return answer;
}

const codeOf = (answer) => answer.errors?.[0]?.extensions?.code;

/** Runs one document; answers its data or throws an ApiError with the first error's code. */
export async function gql(text, variables = {}, { retried = false } = {}) {
  const token = await bearer();
  const isRead = text.trimStart().startsWith('query');
  const hash = await hashOf(text);
  let answer;
  if (hash) {
    const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
    answer = await send(isRead ? 'GET' : 'POST', { variables, extensions }, token);
    if (codeOf(answer) === 'PERSISTED_QUERY_NOT_FOUND') {
      answer = await send('POST', { query: text, variables, extensions }, token);
    }
  } else {
    answer = await send('POST', { query: text, variables }, token);
  }
  const code = codeOf(answer);
  if (!retried && (code === 'TOKEN_EXPIRED' || code === 'SESSION_REVOKED') && (await resume())) {
    return gql(text, variables, { retried: true });
  }
  if (answer.errors?.length) {
    const first = answer.errors[0];
    throw new ApiError(code || 'ERROR', first.message, first.extensions);
  }
  return answer.data;
}

/** A GraphQL multipart request (an upload): the file travels once, with the bearer token. */
export async function upload(text, variables, fileVariable, file) {
  const token = await bearer();
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: text, variables: { ...variables, [fileVariable]: null } }));
  form.append('map', JSON.stringify({ 0: [`variables.${fileVariable}`] }));
  form.append('0', file);
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    body: form,
  });
  const answer = await response.json();
  if (answer.errors?.length) {
    throw new ApiError(codeOf(answer) || 'ERROR', answer.errors[0].message, answer.errors[0].extensions);
  }
  return answer.data;
}

/**
 * Subscribes over graphql-transport-ws; calls `onData(data)` for each answer and `onEnd(error?)` once.
 * A socket the server closes for an expired token (4401) is opened again with a fresh one.
 * Answers a function that stops the subscription.
 */
export function subscribe(text, variables, onData, onEnd = () => {}) {
  let socket;
  let stopped = false;
  let reopened = 0;
  const open = async () => {
    const token = await bearer();
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/graphql/ws`, 'graphql-transport-ws');
    socket.onopen = () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: text, variables } }));
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'next') {
        reopened = 0;
        if (message.payload.errors?.length) {
          const first = message.payload.errors[0];
          onEnd(new ApiError(first.extensions?.code || 'ERROR', first.message));
          stop();
        } else {
          onData(message.payload.data);
        }
      } else if (message.type === 'error') {
        onEnd(new ApiError(message.payload?.[0]?.extensions?.code || 'ERROR', message.payload?.[0]?.message));
        stop();
      } else if (message.type === 'complete') {
        onEnd();
        stop();
      }
    };
    socket.onclose = async (event) => {
      if (stopped) return;
      if (event.code === 4401 && reopened++ < 3 && (await resume())) return open();
      onEnd(new ApiError(event.code === 4403 ? 'FORBIDDEN' : 'DISCONNECTED', event.reason || 'The live connection ended.'));
    };
  };
  const stop = () => {
    stopped = true;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  };
  open();
  return stop;
}
