// Notifications: replies to the viewer's comments and likes of them, newest first, with the unread marked.
// Opening one marks it read; older ones come a page at a time.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import { MARK_READ, NOTIFICATIONS } from '../queries.js';
import { ErrorNote, Link, Loading, changed, formatDate, html, useAction, useLoad, useTitle } from '../ui.js';

const KINDS = { COMMENT_REPLY: 'replied to your comment', COMMENT_LIKE: 'liked your comment' };

export function Notifications() {
  useTitle('Notifications');
  const list = useLoad(() => gql(NOTIFICATIONS).then((data) => data.me), []);
  const [older, setOlder] = useState({ nodes: [], pageInfo: null });
  const markAll = useAction(async () => {
    await gql(MARK_READ, { all: true });
    changed();
    setOlder({ nodes: [], pageInfo: null });
    list.reload();
  });
  const pageInfo = older.pageInfo || list.data?.notifications.pageInfo;
  const more = useAction(async () => {
    const page = (await gql(NOTIFICATIONS, { after: pageInfo.endCursor })).me.notifications;
    setOlder({ nodes: [...older.nodes, ...page.nodes], pageInfo: page.pageInfo });
  });
  // Opening a notification marks it read; the page it leads to loads meanwhile.
  const open = (notification) => {
    if (!notification.readAt) gql(MARK_READ, { ids: [notification.id] }).then(changed, () => {});
  };
  if (list.loading && !list.data) return html`<${Loading} what="Loading notifications" />`;
  if (list.error) return html`<${ErrorNote} error=${list.error} />`;
  const { notifications, unreadNotificationCount: unread } = list.data;
  const all = [...notifications.nodes, ...older.nodes];
  return html`<h1>Notifications</h1>
    <p>${unread} unread
      ${unread > 0 && html` · <button type="button" class="link" onClick=${markAll.run}>Mark all as read</button>`}</p>
    <${ErrorNote} error=${markAll.error} />
    ${all.length === 0 && html`<p class="muted">Nothing yet.</p>`}
    <ul class="lines">
      ${all.map(
        (n) => html`<li key=${n.id} class=${n.readAt ? '' : 'unread'}>
          <div class="grow">
            ${n.comment
              ? html`<strong>${n.comment.author?.name || 'Someone'}</strong> ${KINDS[n.kind]}:
                  <${Link} href=${`/movies/${n.comment.movieId}`} onClick=${() => open(n)}>“${n.comment.text || 'deleted'}”<//>`
              : html`${KINDS[n.kind]} (the comment was removed)`}
            <p class="muted">${formatDate(n.createdAt)}${n.readAt ? '' : ' · unread'}</p>
          </div>
        </li>`,
      )}
    </ul>
    ${pageInfo?.hasNextPage && html`<button type="button" onClick=${more.run} disabled=${more.busy}>Older notifications</button>`}
    <${ErrorNote} error=${more.error} />`;
}
