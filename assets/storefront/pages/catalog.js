// The catalog: search as you type, filters, sorts, and more movies as the visitor scrolls (cursor pages).
import { useCallback, useEffect, useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import { CATALOG, FILTERS, SUGGESTIONS } from '../queries.js';
import { ErrorNote, Link, Loading, MoreWhenVisible, Poster, html, navigate, useLoad, useTitle } from '../ui.js';

const SORTS = {
  'RELEVANCE:DESC': 'Best match',
  'IMDB:DESC': 'IMDb score',
  'POPULARITY:DESC': 'Most bought',
  'YEAR:DESC': 'Newest first',
  'YEAR:ASC': 'Oldest first',
  'NAME:ASC': 'Title A–Z',
  'PRICE:ASC': 'Price, low to high',
  'PRICE:DESC': 'Price, high to low',
  'RATING:DESC': 'Best rated here',
  'ADDED:DESC': 'Recently added',
};

/** The sort a list has when the address names none: the best match for a search, the IMDb score otherwise. */
const defaultSort = (q) => (q.trim() ? 'RELEVANCE:DESC' : 'IMDB:DESC');

/** The catalog's state lives in the address, so a search can be shared, reloaded and gone back to. */
function readParams(params) {
  const q = params.get('q') || '';
  return {
    q,
    genre: params.get('genre') || '',
    yearMin: params.get('yearMin') || '',
    yearMax: params.get('yearMax') || '',
    imdbMin: params.get('imdbMin') || '',
    priceMax: params.get('priceMax') || '',
    sort: params.get('sort') || defaultSort(q),
  };
}

function toVariables(view) {
  const filter = {};
  if (view.genre) filter.genreIds = [view.genre];
  if (view.yearMin) filter.yearMin = Number(view.yearMin);
  if (view.yearMax) filter.yearMax = Number(view.yearMax);
  if (view.imdbMin) filter.imdbMin = Number(view.imdbMin);
  // The price box is in major units; the API counts minor units.
  if (view.priceMax) filter.priceMax = Math.round(Number(view.priceMax) * 100);
  const [field, direction] = view.sort.split(':');
  return { first: 24, search: view.q.trim() || null, filter, sort: { field, direction } };
}

export function MovieCard({ movie }) {
  return html`<li class="card">
    <${Link} href=${`/movies/${movie.id}`} aria-label=${`${movie.name} (${movie.year})`}>
      <${Poster} poster=${movie.poster} name=${movie.name} />
      <span class="title">${movie.name}</span>
    <//>
    <span class="muted">${movie.year} · ★ ${movie.imdbScore.toFixed(1)}</span>
    <span class="price">
      ${movie.isPurchased ? html`<span class="owned">In your library</span>` : movie.price.formatted}
      ${!movie.available && html` <span class="muted">(not on sale)</span>`}
    </span>
  </li>`;
}

export function Catalog({ params }) {
  useTitle('Catalog');
  const view = readParams(params);
  const [draft, setDraft] = useState(view.q);
  const filters = useLoad(() => gql(FILTERS), []);
  const key = JSON.stringify(view);
  const first = useLoad(() => gql(CATALOG, toVariables(view)), [key]);
  const [more, setMore] = useState({ nodes: [], pageInfo: null, busy: false, error: null });
  useEffect(() => setMore({ nodes: [], pageInfo: null, busy: false, error: null }), [key]);

  // Suggestions as you type, sooner than the search itself: titles and people the box can complete to. They
  // only help, so a failed request leaves the list as it was.
  const [suggestions, setSuggestions] = useState([]);
  useEffect(() => {
    const text = draft.trim();
    if (text.length < 2) {
      setSuggestions([]);
      return undefined;
    }
    let current = true;
    const timer = setTimeout(() => {
      gql(SUGGESTIONS, { text })
        .then((data) => current && setSuggestions(data.searchSuggestions))
        .catch(() => {});
    }, 120);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [draft]);

  // Search as you type: the address (and so the query) follows the box after a short pause.
  useEffect(() => {
    if (draft === view.q) return undefined;
    const timer = setTimeout(() => update({ q: draft }, true), 250);
    return () => clearTimeout(timer);
  }, [draft]);

  // Reads the address as it is now, not as it was when this render ran: the search box's timer can fire after
  // a filter changed the address, and must not undo that change.
  function update(changes, replace = false) {
    const now = new URLSearchParams(location.search);
    const next = { ...readParams(now), ...changes };
    // A sort the visitor did not choose follows the search box (best match while searching).
    if (!('sort' in changes) && !now.get('sort')) next.sort = defaultSort(next.q);
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(next)) {
      if (value && !(name === 'sort' && value === defaultSort(next.q))) search.set(name, value);
    }
    const query = search.toString();
    navigate(query ? `/?${query}` : '/', { replace });
  }

  const page = first.data?.movies;
  const pageInfo = more.pageInfo || page?.pageInfo;
  const loadMore = useCallback(async () => {
    if (!pageInfo?.hasNextPage || more.busy) return;
    setMore((m) => ({ ...m, busy: true, error: null }));
    try {
      const data = await gql(CATALOG, { ...toVariables(view), after: pageInfo.endCursor });
      setMore((m) => ({ nodes: [...m.nodes, ...data.movies.nodes], pageInfo: data.movies.pageInfo, busy: false }));
    } catch (error) {
      setMore((m) => ({ ...m, busy: false, error }));
    }
  }, [pageInfo?.endCursor, more.busy, key]);

  const genres = filters.data?.genres || [];
  const count = page && `${page.totalCount.toLocaleString()}${page.totalCountCapped ? '+' : ''}`;
  return html`
    <h1 class="visually-hidden">Catalog</h1>
    <form class="filters" role="search" onSubmit=${(e) => (e.preventDefault(), update({ q: draft }))}>
      <div class="field grow">
        <label for="search">Search titles and people</label>
        <input id="search" type="search" value=${draft} placeholder="Title, director or star"
          autocomplete="off" list="search-suggestions" onInput=${(e) => setDraft(e.target.value)} />
        <datalist id="search-suggestions">
          ${[...new Map(suggestions.map((s) => [s.name, s])).values()].map(
            (s) => html`<option value=${s.name}>${s.__typename === 'Person' ? 'Director or star' : 'Movie'}</option>`)}
        </datalist>
      </div>
      <div class="field">
        <label for="genre">Genre</label>
        <select id="genre" value=${view.genre} onChange=${(e) => update({ genre: e.target.value })}>
          <option value="">All genres</option>
          ${genres.map((g) => html`<option value=${g.id}>${g.name} (${g.movieCount})</option>`)}
        </select>
      </div>
      <div class="field small">
        <label for="yearMin">From year</label>
        <input id="yearMin" type="number" inputmode="numeric" min="1888" max="2100" value=${view.yearMin}
          onChange=${(e) => update({ yearMin: e.target.value })} />
      </div>
      <div class="field small">
        <label for="yearMax">To year</label>
        <input id="yearMax" type="number" inputmode="numeric" min="1888" max="2100" value=${view.yearMax}
          onChange=${(e) => update({ yearMax: e.target.value })} />
      </div>
      <div class="field small">
        <label for="imdbMin">IMDb at least</label>
        <input id="imdbMin" type="number" step="0.1" min="0" max="10" value=${view.imdbMin}
          onChange=${(e) => update({ imdbMin: e.target.value })} />
      </div>
      <div class="field small">
        <label for="priceMax">Price at most</label>
        <input id="priceMax" type="number" step="0.01" min="0" value=${view.priceMax}
          onChange=${(e) => update({ priceMax: e.target.value })} />
      </div>
      <div class="field">
        <label for="sort">Sort by</label>
        <select id="sort" value=${view.sort} onChange=${(e) => update({ sort: e.target.value })}>
          ${Object.entries(SORTS).map(([value, label]) => html`<option value=${value}>${label}</option>`)}
        </select>
      </div>
    </form>
    <${ErrorNote} error=${first.error || filters.error || more.error} />
    ${first.loading && !page && html`<${Loading} what="Loading movies" />`}
    ${page &&
    html`<p class="muted" role="status" aria-live="polite">
        ${page.didYouMean
          ? html`Nothing matches “${view.q.trim()}”. ${count} ${page.totalCount === 1 ? 'movie' : 'movies'} for
              “<strong class="did-you-mean">${page.didYouMean}</strong>” instead.`
          : html`${count} ${page.totalCount === 1 ? 'movie' : 'movies'}`}
      </p>
      <ul class="grid" aria-label="Movies">
        ${[...page.nodes, ...more.nodes].map((movie) => html`<${MovieCard} key=${movie.id} movie=${movie} />`)}
      </ul>
      ${pageInfo?.hasNextPage && html`<${MoreWhenVisible} onVisible=${loadMore} busy=${more.busy} />`}`}
  `;
}
