// The storefront: one page shell, a header, and the page the address names.
import { html, render, useEffect, useState } from './vendor/htm-preact.js';
import * as api from './api.js';
import { VIEWER } from './queries.js';
import { Link, navigate, useLocation } from './ui.js';
import { Catalog } from './pages/catalog.js';
import { MoviePage } from './pages/movie.js';
import { Activate, ForgotPassword, ResetPassword, SignIn, SignUp } from './pages/auth.js';
import { Profile } from './pages/profile.js';
import { CartPage } from './pages/cart.js';
import { OrderPage, Orders } from './pages/orders.js';
import { Favorites, Library } from './pages/library.js';
import { Notifications } from './pages/notifications.js';
import { Staff } from './staff/index.js';

/** Pages a visitor must be signed in for: they send the visitor to sign in, then back. */
const ROUTES = [
  [/^\/$/, Catalog, false],
  [/^\/movies\/([^/]+)$/, MoviePage, false],
  [/^\/sign-in$/, SignIn, false],
  [/^\/sign-up$/, SignUp, false],
  [/^\/activate$/, Activate, false],
  [/^\/forgot-password$/, ForgotPassword, false],
  [/^\/reset-password$/, ResetPassword, false],
  [/^\/profile$/, Profile, true],
  [/^\/cart$/, CartPage, true],
  [/^\/orders$/, Orders, true],
  [/^\/orders\/([^/]+)$/, OrderPage, true],
  [/^\/library$/, Library, true],
  [/^\/favorites$/, Favorites, true],
  [/^\/notifications$/, Notifications, true],
  [/^\/staff(\/.*)?$/, Staff, true],
];

function useViewer() {
  const [viewer, setViewer] = useState(null);
  const [ready, setReady] = useState(false);
  const load = () =>
    api.signedIn()
      ? api.gql(VIEWER).then((data) => setViewer({ ...data.me, cartCount: data.cart.count }), () => setViewer(null))
      : Promise.resolve(setViewer(null));
  useEffect(() => {
    api.resume().then(load).finally(() => setReady(true));
    const stop = api.onSessionChange(load);
    window.addEventListener('cinema:changed', load);
    return () => (stop(), window.removeEventListener('cinema:changed', load));
  }, []);
  return { viewer, ready };
}

function Header({ viewer }) {
  const signOut = async () => {
    await api.signOut();
    navigate('/');
  };
  const unread = viewer?.unreadNotificationCount || 0;
  return html`<header class="site">
    <a class="skip" href="#main">Skip to content</a>
    <${Link} href="/" class="brand"><img src=${new URL('./icon.svg', import.meta.url)} alt="" width="28" height="28" /> Cinema<//>
    <nav aria-label="Main">
      <${Link} href="/">Catalog<//>
      ${viewer
        ? html`
            <${Link} href="/library">My library<//>
            <${Link} href="/favorites">Favorites<//>
            <${Link} href="/orders">Orders<//>
            <${Link} href="/notifications" aria-label=${`Notifications, ${unread} unread`}>
              Notifications${unread > 0 && html` <span class="badge">${unread}</span>`}
            <//>
            <${Link} href="/cart" aria-label=${`Cart, ${viewer.cartCount} items`}>
              Cart <span class="badge">${viewer.cartCount}</span>
            <//>
            <${Link} href="/profile">${viewer.profile.firstName || viewer.email}<//>
            ${viewer.role !== 'USER' && html`<${Link} href="/staff/movies">Staff<//>`}
            <button type="button" class="link" onClick=${signOut}>Sign out</button>
          `
        : html`<${Link} href="/sign-in">Sign in<//> <${Link} href="/sign-up">Create account<//>`}
    </nav>
  </header>`;
}

function App() {
  const { path, params } = useLocation();
  const { viewer, ready } = useViewer();
  // After a navigation inside the app, focus moves to the new page's content, as it would on a page load, so
  // that a keyboard or screen reader user starts there (not on the link they left).
  const [firstPath] = useState(path);
  useEffect(() => {
    if (path !== firstPath) document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);
  const match = ROUTES.map(([pattern, page, private_]) => [pattern.exec(path), page, private_]).find(([m]) => m);
  let content;
  if (!match) {
    content = html`<h1>Not found</h1><p>There is no page here. <${Link} href="/">Back to the catalog<//></p>`;
  } else if (!ready) {
    content = html`<p class="muted" role="status">Loading…</p>`;
  } else {
    const [found, Page, private_] = match;
    if (private_ && !viewer) {
      content = html`<${SignIn} next=${path + location.search} />`;
    } else {
      const key = path.startsWith('/staff') ? '/staff' : path;
      content = html`<${Page} key=${key} id=${found[1] && decodeURIComponent(found[1])} params=${params} viewer=${viewer} />`;
    }
  }
  return html`<${Header} viewer=${viewer} /><main id="main" tabindex="-1">${content}</main>
    <footer class="site muted">Cinema · prices include VAT · times in your time zone</footer>`;
}

render(html`<${App} />`, document.getElementById('app'));
