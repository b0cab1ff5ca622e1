// "My library" (the movies the viewer bought) and favorites: the catalog's cards, a page at a time.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import { FAVORITES, LIBRARY } from '../queries.js';
import { ErrorNote, Link, Loading, MoreWhenVisible, html, useAction, useLoad, useTitle } from '../ui.js';
import { MovieCard } from './catalog.js';

function MovieShelf({ title, document, field, empty }) {
  useTitle(title);
  const [pages, setPages] = useState([]);
  const first = useLoad(() => gql(document).then((data) => data.me[field]), []);
  const last = pages[pages.length - 1] || first.data;
  const more = useAction(async () =>
    setPages([...pages, (await gql(document, { after: last.pageInfo.endCursor })).me[field]]),
  );
  if (first.loading && !first.data) return html`<${Loading} />`;
  if (first.error) return html`<${ErrorNote} error=${first.error} />`;
  const movies = [first.data, ...pages].flatMap((page) => page.nodes);
  return html`<h1>${title}</h1>
    ${movies.length === 0 ? html`<p>${empty} <${Link} href="/">Browse the catalog<//></p>` : null}
    <ul class="grid" aria-label=${title}>${movies.map((m) => html`<${MovieCard} key=${m.id} movie=${m} />`)}</ul>
    ${last?.pageInfo.hasNextPage && html`<${MoreWhenVisible} onVisible=${more.run} busy=${more.busy} />`}
    <${ErrorNote} error=${more.error} />`;
}

export const Library = () =>
  html`<${MovieShelf} title="My library" document=${LIBRARY} field="purchasedMovies"
    empty="The movies you buy will be here." />`;

export const Favorites = () =>
  html`<${MovieShelf} title="Favorites" document=${FAVORITES} field="favorites"
    empty="Mark movies as favorites to find them here." />`;
