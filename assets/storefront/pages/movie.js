// A movie: poster, details, people, the viewer's reaction, rating and favorite, the cart, and comments.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import * as Q from '../queries.js';
import {
  ErrorNote, Field, Link, Loading, Poster, changed, formatDate, html, useAction, useLoad, useTitle,
} from '../ui.js';

export function MoviePage({ id, viewer }) {
  const movie = useLoad(() => gql(Q.MOVIE, { id }).then((data) => data.movie), [id, viewer?.id]);
  useTitle(movie.data?.name || 'Movie');
  if (movie.loading && !movie.data) return html`<${Loading} what="Loading the movie" />`;
  if (movie.error) return html`<${ErrorNote} error=${movie.error} />`;
  if (!movie.data) return html`<h1>Not found</h1><p>No such movie. <${Link} href="/">Back to the catalog<//></p>`;
  const m = movie.data;
  const merge = (state) => movie.setData({ ...m, ...state });
  return html`
    <article class="movie">
      <${Poster} poster=${m.poster} name=${m.name} className="large" />
      <div class="details">
        <h1>${m.name} <span class="muted">(${m.year})</span></h1>
        <p class="muted">
          ${m.certification.name} · ${m.durationMinutes} min · ${m.genres.map((g) => g.name).join(', ')}
        </p>
        <p>IMDb ★ ${m.imdbScore.toFixed(1)} (${m.votes.toLocaleString()} votes)
          ${m.metaScore != null && html` · Metascore ${m.metaScore}`}
          ${m.averageRating != null && html` · Here ★ ${m.averageRating.toFixed(1)} from ${m.ratingsCount}`}</p>
        <p>${m.description}</p>
        <dl>
          <dt>Directed by</dt><dd>${m.directors.map((p) => p.name).join(', ') || '—'}</dd>
          <dt>Starring</dt><dd>${m.stars.map((p) => p.name).join(', ') || '—'}</dd>
          ${m.gross && html`<dt>Gross</dt><dd>${m.gross.formatted}</dd>`}
        </dl>
        <${Buy} movie=${m} viewer=${viewer} onChange=${merge} />
        <${Opinions} movie=${m} viewer=${viewer} onChange=${merge} />
      </div>
    </article>
    <${Comments} movieId=${m.id} viewer=${viewer} />
  `;
}

function Buy({ movie, viewer, onChange }) {
  const add = useAction(async () => {
    await gql(Q.ADD_TO_CART, { id: movie.id });
    onChange({ inCart: true });
    changed();
  });
  if (movie.isPurchased) return html`<p class="owned">In your library.</p>`;
  if (!movie.available) return html`<p class="muted">Not on sale at the moment.</p>`;
  return html`<div class="buy">
    <span class="price big">${movie.price.formatted}</span>
    ${!viewer
      ? html`<${Link} class="button" href=${`/sign-in?next=/movies/${movie.id}`}>Sign in to buy<//>`
      : movie.inCart
        ? html`<${Link} class="button" href="/cart">In your cart: go to the cart<//>`
        : html`<button type="button" class="primary" onClick=${add.run} disabled=${add.busy}>Add to cart</button>`}
    <${ErrorNote} error=${add.error} />
  </div>`;
}

function Opinions({ movie, viewer, onChange }) {
  const act = useAction(async (document, variables, field) => {
    const data = await gql(document, { id: movie.id, ...variables });
    onChange(data[field]);
  });
  if (!viewer) {
    return html`<p class="muted">${movie.likes} likes · ${movie.dislikes} dislikes —
      <${Link} href=${`/sign-in?next=/movies/${movie.id}`}>sign in<//> to react, rate and comment.</p>`;
  }
  const react = (reaction) =>
    movie.viewerReaction === reaction
      ? act.run(Q.CLEAR_REACTION, {}, 'clearReaction')
      : act.run(Q.SET_REACTION, { reaction }, 'setReaction');
  const rate = (score) =>
    score ? act.run(Q.RATE, { score: Number(score) }, 'rateMovie') : act.run(Q.CLEAR_RATING, {}, 'clearRating');
  return html`<div class="opinions" aria-busy=${act.busy}>
    <button type="button" aria-pressed=${movie.viewerReaction === 'LIKE'} onClick=${() => react('LIKE')}>
      Like <span class="count">${movie.likes}</span></button>
    <button type="button" aria-pressed=${movie.viewerReaction === 'DISLIKE'} onClick=${() => react('DISLIKE')}>
      Dislike <span class="count">${movie.dislikes}</span></button>
    <button type="button" aria-pressed=${movie.isFavorite}
      onClick=${() => (movie.isFavorite
        ? act.run(Q.REMOVE_FAVORITE, {}, 'removeFavorite')
        : act.run(Q.ADD_FAVORITE, {}, 'addFavorite'))}>
      ${movie.isFavorite ? '★ In favorites' : '☆ Add to favorites'}</button>
    <label class="inline">Your rating
      <select value=${movie.viewerRating ?? ''} onChange=${(e) => rate(e.target.value)}>
        <option value="">—</option>
        ${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
    </label>
    <${ErrorNote} error=${act.error} />
  </div>`;
}

function Comments({ movieId, viewer }) {
  const list = useLoad(() => gql(Q.COMMENTS, { id: movieId }).then((data) => data.movie.comments), [movieId]);
  const [older, setOlder] = useState({ nodes: [], pageInfo: null });
  const [text, setText] = useState('');
  const pageInfo = older.pageInfo || list.data?.pageInfo;
  const more = useAction(async () => {
    const page = (await gql(Q.COMMENTS, { id: movieId, after: pageInfo.endCursor })).movie.comments;
    setOlder({ nodes: [...older.nodes, ...page.nodes], pageInfo: page.pageInfo });
  });
  const reload = () => (setOlder({ nodes: [], pageInfo: null }), list.reload());
  const post = useAction(async (event) => {
    event.preventDefault();
    await gql(Q.ADD_COMMENT, { id: movieId, text });
    setText('');
    reload();
  });
  return html`<section class="comments" aria-labelledby="comments-title">
    <h2 id="comments-title">Comments</h2>
    ${viewer &&
    html`<form onSubmit=${post.run}>
      <${Field} type="textarea" label="Your comment" value=${text} required maxlength="2000"
        onInput=${(e) => setText(e.target.value)} />
      <button type="submit" disabled=${post.busy || !text.trim()}>Post comment</button>
      <${ErrorNote} error=${post.error} />
    </form>`}
    <${ErrorNote} error=${list.error} />
    ${list.data &&
    (list.data.nodes.length === 0
      ? html`<p class="muted">No comments yet.</p>`
      : html`<ol class="thread">
          ${[...list.data.nodes, ...older.nodes].map(
            (c) => html`<${CommentItem} key=${c.id} comment=${c} viewer=${viewer} onChange=${reload} />`,
          )}
        </ol>`)}
    ${pageInfo?.hasNextPage &&
    html`<button type="button" onClick=${more.run} disabled=${more.busy}>Older comments</button>`}
    <${ErrorNote} error=${more.error} />
  </section>`;
}

function CommentItem({ comment, viewer, onChange }) {
  const [state, setState] = useState(comment);
  const [replying, setReplying] = useState(false);
  const [text, setText] = useState('');
  const like = useAction(async () => {
    const data = state.viewerLiked
      ? (await gql(Q.UNLIKE_COMMENT, { id: state.id })).unlikeComment
      : (await gql(Q.LIKE_COMMENT, { id: state.id })).likeComment;
    setState({ ...state, ...data });
  });
  const remove = useAction(async () => {
    if (!confirm('Delete this comment?')) return;
    await gql(Q.DELETE_COMMENT, { id: state.id });
    onChange();
  });
  const reply = useAction(async (event) => {
    event.preventDefault();
    await gql(Q.REPLY, { id: state.id, text });
    setText('');
    setReplying(false);
    onChange();
  });
  const mine = viewer && state.author && viewer.id === state.author.id;
  const staff = viewer && viewer.role !== 'USER';
  return html`<li class="comment">
    <p class="meta"><strong>${state.author?.name || 'Deleted account'}</strong>
      <span class="muted"> · ${formatDate(state.createdAt)}</span></p>
    <p>${state.isDeleted ? html`<em class="muted">This comment was deleted.</em>` : state.text}</p>
    ${!state.isDeleted &&
    html`<div class="actions">
      ${viewer
        ? html`<button type="button" class="link" aria-pressed=${state.viewerLiked} onClick=${like.run}>
            ♥ ${state.likes} <span class="visually-hidden">likes; ${state.viewerLiked ? 'unlike' : 'like'}</span></button>`
        : html`<span class="muted">♥ ${state.likes}</span>`}
      ${viewer && html`<button type="button" class="link" aria-expanded=${replying} onClick=${() => setReplying(!replying)}>Reply</button>`}
      ${(mine || staff) && html`<button type="button" class="link danger" onClick=${remove.run}>Delete</button>`}
    </div>`}
    <${ErrorNote} error=${like.error || remove.error} />
    ${replying &&
    html`<form class="reply" onSubmit=${reply.run}>
      <${Field} type="textarea" label=${`Reply to ${state.author?.name || 'this comment'}`} value=${text} required
        maxlength="2000" onInput=${(e) => setText(e.target.value)} />
      <button type="submit" disabled=${reply.busy || !text.trim()}>Post reply</button>
      <${ErrorNote} error=${reply.error} />
    </form>`}
    ${comment.replies?.nodes?.length > 0 &&
    html`<ol class="replies">
      ${comment.replies.nodes.map((r) => html`<${CommentItem} key=${r.id} comment=${r} viewer=${viewer} onChange=${onChange} />`)}
    </ol>`}
    ${comment.replyCount > (comment.replies?.nodes?.length || 0) &&
    html`<p class="muted">and ${comment.replyCount - comment.replies.nodes.length} later replies</p>`}
  </li>`;
}
