// The staff dashboard at /staff: moderators run the catalog and refund requests; admins also see orders,
// payments, users, certifications and failed jobs. The API enforces the roles; this only hides what the
// viewer could not use.
import { Link, html, useTitle } from '../ui.js';
import { StaffMovie, StaffMovies } from './movies.js';
import { StaffCertifications, StaffGenres, StaffPeople } from './names.js';
import { StaffOrders, StaffPayments, StaffRefunds } from './money.js';
import { StaffJobs, StaffUsers } from './users.js';

const SECTIONS = [
  ['/staff/movies', 'Movies', 'MODERATOR', StaffMovies],
  ['/staff/genres', 'Genres', 'MODERATOR', StaffGenres],
  ['/staff/people', 'People', 'MODERATOR', StaffPeople],
  ['/staff/refunds', 'Refund requests', 'MODERATOR', StaffRefunds],
  ['/staff/certifications', 'Certifications', 'ADMIN', StaffCertifications],
  ['/staff/orders', 'Orders', 'ADMIN', StaffOrders],
  ['/staff/payments', 'Payments', 'ADMIN', StaffPayments],
  ['/staff/users', 'Users', 'ADMIN', StaffUsers],
  ['/staff/jobs', 'Failed jobs', 'ADMIN', StaffJobs],
];

const RANK = { USER: 0, MODERATOR: 1, ADMIN: 2 };

export function Staff({ viewer, params }) {
  useTitle('Staff');
  if (RANK[viewer.role] < RANK.MODERATOR) {
    return html`<h1>Staff only</h1><p>This part is for moderators and admins. <${Link} href="/">Back to the shop<//></p>`;
  }
  const path = location.pathname;
  const sections = SECTIONS.filter(([, , role]) => RANK[viewer.role] >= RANK[role]);
  const movie = /^\/staff\/movies\/([^/]+)$/.exec(path);
  const section = sections.find(([href]) => href === path);
  let content;
  if (movie) content = html`<${StaffMovie} key=${movie[1]} id=${decodeURIComponent(movie[1])} viewer=${viewer} />`;
  else if (section) {
    const Page = section[3];
    content = html`<${Page} key=${path} viewer=${viewer} params=${params} />`;
  } else if (path === '/staff' || path === '/staff/') {
    content = html`<h1>Staff</h1><p>Signed in as ${viewer.email} (${viewer.role.toLowerCase()}).</p>`;
  } else content = html`<h1>Not found</h1>`;
  return html`<div class="staff-layout">
    <nav aria-label="Staff" class="staff-nav">
      <ul>${sections.map(([href, label]) => html`<li><${Link} href=${href}
        aria-current=${path.startsWith(href) ? 'page' : undefined}>${label}<//></li>`)}</ul>
    </nav>
    <div class="staff-main">${content}</div>
  </div>`;
}
