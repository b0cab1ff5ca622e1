// Notifications: replies to the viewer's comments and likes of them, newest first, with the unread marked.
import { gql } from '../api.js';
import { MARK_READ, NOTIFICATIONS } from '../queries.js';
import { ErrorNote, Link, Loading, changed, formatDate, html, useAction, useLoad, useTitle } from '../ui.js';

const KINDS = { COMMENT_REPLY: 'replied to your comment', COMMENT_LIKE: 'liked your comment' };

export function Notifications() {
  useTitle('Notifications');
  const list = useLoad(() => gql(NOTIFICATIONS).then((data) => data.me), []);
  const markAll = useAction(async () => {
    await gql(MARK_READ, { all: true });
    changed();
    list.reload();
  });
  if (list.loading && !list.data) return html`<${Loading} what="Loading notifications" />`;
  if (list.error) return html`<${ErrorNote} error=${list.error} />`;
  const { notifications, unreadNotificationCount: unread } = list.data;
  return html`<h1>Notifications</h1>
    <p>${unread} unread
      ${unread > 0 && html` · <button type="button" class="link" onClick=${markAll.run}>Mark all as read</button>`}</p>
    <${ErrorNote} error=${markAll.error} />
    ${notifications.nodes.length === 0 && html`<p class="muted">Nothing yet.</p>`}
    <ul class="lines">
      ${notifications.nodes.map(
        (n) => html`<li key=${n.id} class=${n.readAt ? '' : 'unread'}>
          <div class="grow">
            ${n.comment
              ? html`<strong>${n.comment.author?.name || 'Someone'}</strong> ${KINDS[n.kind]}:
                  <${Link} href=${`/movies/${n.comment.movieId}`}>“${n.comment.text || 'deleted'}”<//>`
              : html`${KINDS[n.kind]} (the comment was removed)`}
            <p class="muted">${formatDate(n.createdAt)}${n.readAt ? '' : ' · unread'}</p>
          </div>
        </li>`,
      )}
    </ul>`;
}
