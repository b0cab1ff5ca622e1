// The catalog editor: movies (fields, genres, people, certification, on sale or withdrawn, poster) and the
// delete rules with their confirmations.
import { useState } from '../vendor/htm-preact.js';
import { gql, upload } from '../api.js';
import * as Q from './queries.js';
import { ErrorNote, Field, Link, Loading, Poster, html, navigate, useAction, useLoad, useTitle } from '../ui.js';

export function StaffMovies({ params }) {
  useTitle('Staff · Movies');
  const [search, setSearch] = useState(params.get('q') || '');
  const [pages, setPages] = useState([]);
  const first = useLoad(() => gql(Q.MOVIES, { search: search.trim() || null }).then((d) => d.movies), [search]);
  const last = pages[pages.length - 1] || first.data;
  const more = useAction(async () =>
    setPages([...pages, (await gql(Q.MOVIES, { search: search.trim() || null, after: last.pageInfo.endCursor })).movies]),
  );
  const movies = first.data ? [first.data, ...pages].flatMap((page) => page.nodes) : [];
  return html`<h1>Movies</h1>
    <p><${Link} class="button primary" href="/staff/movies/new">Add a movie<//></p>
    <div class="field narrow">
      <label for="staff-movie-search">Find a movie</label>
      <input id="staff-movie-search" type="search" value=${search}
        onInput=${(e) => (setPages([]), setSearch(e.target.value))} />
    </div>
    <${ErrorNote} error=${first.error || more.error} />
    ${first.loading && !first.data && html`<${Loading} />`}
    <table class="staff">
      <thead><tr><th scope="col">Poster</th><th scope="col">Title</th><th scope="col">Year</th>
        <th scope="col">Price</th><th scope="col">On sale</th></tr></thead>
      <tbody>
        ${movies.map(
          (m) => html`<tr key=${m.id}>
            <td><${Poster} poster=${m.poster} name=${m.name} className="thumb" /></td>
            <td><${Link} href=${`/staff/movies/${m.id}`}>${m.name}<//></td>
            <td>${m.year}</td><td>${m.price.formatted}</td><td>${m.available ? 'yes' : 'withdrawn'}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${last?.pageInfo.hasNextPage && html`<button type="button" onClick=${more.run} disabled=${more.busy}>More movies</button>`}`;
}

/** The fields of the form, as text, from a movie (or blank for a new one). */
function formOf(movie) {
  return {
    name: movie?.name || '',
    year: movie ? String(movie.year) : '',
    durationMinutes: movie ? String(movie.durationMinutes) : '',
    price: movie ? (movie.price.amount / 100).toFixed(2) : '',
    imdbScore: movie ? String(movie.imdbScore) : '',
    metaScore: movie?.metaScore != null ? String(movie.metaScore) : '',
    votes: movie?.votes != null ? String(movie.votes) : '',
    gross: movie?.gross ? (movie.gross.amount / 100).toFixed(2) : '',
    description: movie?.description || '',
    certificationId: movie?.certification.id || '',
    genreIds: movie ? movie.genres.map((g) => g.id) : [],
    directors: movie?.directors || [],
    stars: movie?.stars || [],
    available: movie ? movie.available : true,
  };
}

/** The API's input from the form: money in minor units, numbers as numbers, blanks as null. */
function inputOf(form) {
  const number = (text) => (text.trim() === '' ? null : Number(text));
  const cents = (text) => (text.trim() === '' ? null : Math.round(Number(text) * 100));
  return {
    name: form.name.trim(),
    year: number(form.year),
    durationMinutes: number(form.durationMinutes),
    price: cents(form.price),
    imdbScore: number(form.imdbScore),
    metaScore: number(form.metaScore),
    votes: number(form.votes),
    gross: cents(form.gross),
    description: form.description,
    certificationId: form.certificationId,
    genreIds: form.genreIds,
    directorIds: form.directors.map((p) => p.id),
    starIds: form.stars.map((p) => p.id),
  };
}

export function StaffMovie({ id }) {
  const isNew = id === 'new';
  const choices = useLoad(() => gql(Q.CHOICES), []);
  const movie = useLoad(() => (isNew ? Promise.resolve(null) : gql(Q.MOVIE, { id }).then((d) => d.movie)), [id]);
  useTitle(isNew ? 'Staff · New movie' : `Staff · ${movie.data?.name || 'Movie'}`);
  if ((movie.loading && !movie.data) || (choices.loading && !choices.data)) return html`<${Loading} />`;
  if (movie.error || choices.error) return html`<${ErrorNote} error=${movie.error || choices.error} />`;
  if (!isNew && !movie.data) return html`<h1>Not found</h1>`;
  return html`<p><${Link} href="/staff/movies">All movies<//></p>
    <h1>${isNew ? 'New movie' : movie.data.name}</h1>
    ${!isNew && html`<${PosterEditor} movie=${movie.data} onChange=${movie.setData} />`}
    <${MovieForm} key=${movie.data?.id || 'new'} movie=${movie.data} choices=${choices.data} onSaved=${(saved) =>
      isNew ? navigate(`/staff/movies/${saved.id}`, { replace: true }) : movie.setData(saved)} />
    ${!isNew && html`<${DeleteMovie} movie=${movie.data} />`}`;
}

function MovieForm({ movie, choices, onSaved }) {
  const [form, setForm] = useState(formOf(movie));
  const [saved, setSaved] = useState(false);
  const set = (name) => (event) => (setSaved(false), setForm({ ...form, [name]: event.target.value }));
  const save = useAction(async (event) => {
    event.preventDefault();
    const input = inputOf(form);
    const data = movie
      ? (await gql(Q.UPDATE_MOVIE, { id: movie.id, input: { ...input, available: form.available } })).updateMovie
      : (await gql(Q.CREATE_MOVIE, { input })).createMovie;
    setSaved(true);
    onSaved(data);
  });
  const toggleGenre = (genreId) =>
    setForm({
      ...form,
      genreIds: form.genreIds.includes(genreId) ? form.genreIds.filter((g) => g !== genreId) : [...form.genreIds, genreId],
    });
  return html`<form class="editor" onSubmit=${save.run}>
    <${Field} label="Title" required maxlength="200" value=${form.name} onInput=${set('name')} />
    <div class="row">
      <${Field} label="Year" type="number" required min="1888" max="2100" value=${form.year} onInput=${set('year')} />
      <${Field} label="Minutes" type="number" required min="1" value=${form.durationMinutes} onInput=${set('durationMinutes')} />
      <${Field} label="Price (USD)" type="number" required min="0" step="0.01" value=${form.price} onInput=${set('price')} />
    </div>
    <div class="row">
      <${Field} label="IMDb score" type="number" required min="0" max="10" step="0.1" value=${form.imdbScore} onInput=${set('imdbScore')} />
      <${Field} label="Metascore" type="number" min="0" max="100" value=${form.metaScore} onInput=${set('metaScore')} />
      <${Field} label="Votes" type="number" min="0" value=${form.votes} onInput=${set('votes')} />
      <${Field} label="Gross (USD)" type="number" min="0" step="0.01" value=${form.gross} onInput=${set('gross')} />
    </div>
    <${Field} type="textarea" label="Description" value=${form.description} onInput=${set('description')} />
    <div class="field">
      <label for="certification">Certification</label>
      <select id="certification" required value=${form.certificationId} onChange=${set('certificationId')}>
        <option value="">Choose…</option>
        ${choices.certifications.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
      </select>
    </div>
    <fieldset class="genres">
      <legend>Genres</legend>
      ${choices.genres.map(
        (g) => html`<label class="check"><input type="checkbox" checked=${form.genreIds.includes(g.id)}
          onChange=${() => toggleGenre(g.id)} /> ${g.name}</label>`,
      )}
    </fieldset>
    <${PeoplePicker} legend="Directors" chosen=${form.directors} onChange=${(directors) => setForm({ ...form, directors })} />
    <${PeoplePicker} legend="Stars" chosen=${form.stars} onChange=${(stars) => setForm({ ...form, stars })} />
    ${movie &&
    html`<label class="check"><input type="checkbox" checked=${form.available}
      onChange=${(e) => setForm({ ...form, available: e.target.checked })} /> On sale (untick to withdraw it)</label>`}
    <p><button type="submit" class="primary" disabled=${save.busy}>${movie ? 'Save changes' : 'Add the movie'}</button>
      ${saved && html`<span role="status"> Saved.</span>`}</p>
    <${ErrorNote} error=${save.error} />
  </form>`;
}

/** Chosen people as removable chips, and a search that adds one (or creates a new person by that name). */
function PeoplePicker({ legend, chosen, onChange }) {
  const [text, setText] = useState('');
  const found = useLoad(() => (text.trim() ? gql(Q.PEOPLE, { text }).then((d) => d.people) : Promise.resolve([])), [text]);
  const create = useAction(async () => {
    const person = (await gql(Q.CREATE_PERSON, { name: text.trim() })).createPerson;
    onChange([...chosen, person]);
    setText('');
  });
  const add = (person) => {
    if (!chosen.some((p) => p.id === person.id)) onChange([...chosen, person]);
    setText('');
  };
  const id = `pick-${legend.toLowerCase()}`;
  const options = (found.data || []).filter((p) => !chosen.some((c) => c.id === p.id));
  return html`<fieldset class="people">
    <legend>${legend}</legend>
    <ul class="chips">
      ${chosen.map(
        (p) => html`<li key=${p.id}>${p.name}
          <button type="button" class="link" aria-label=${`Remove ${p.name} from ${legend.toLowerCase()}`}
            onClick=${() => onChange(chosen.filter((c) => c.id !== p.id))}>×</button></li>`,
      )}
    </ul>
    <label for=${id}>Add to ${legend.toLowerCase()}</label>
    <input id=${id} type="search" value=${text} autocomplete="off" onInput=${(e) => setText(e.target.value)} />
    ${text.trim() &&
    html`<ul class="suggestions" aria-label=${`People matching ${text}`}>
      ${options.map((p) => html`<li key=${p.id}><button type="button" class="link" onClick=${() => add(p)}>${p.name}</button></li>`)}
      <li><button type="button" class="link" onClick=${create.run} disabled=${create.busy}>New person “${text.trim()}”</button></li>
    </ul>`}
    <${ErrorNote} error=${found.error || create.error} />
  </fieldset>`;
}

function PosterEditor({ movie, onChange }) {
  const send = useAction(async (file) => onChange((await upload(Q.UPLOAD_POSTER, { id: movie.id }, 'file', file)).uploadPoster));
  const remove = useAction(async () => onChange((await gql(Q.REMOVE_POSTER, { id: movie.id })).removePoster));
  return html`<div class="avatar-row">
    <${Poster} poster=${movie.poster} name=${movie.name} className="thumb large-thumb" />
    <div>
      <label for="poster-file">Poster (PNG, JPEG or WebP, up to 3 MiB)</label>
      <input id="poster-file" type="file" accept="image/png,image/jpeg,image/webp"
        onChange=${(e) => e.target.files[0] && send.run(e.target.files[0])} />
      ${!movie.poster.generated &&
      html`<button type="button" class="link danger" onClick=${remove.run}>Remove the poster (a generated one shows)</button>`}
      ${send.busy && html`<span role="status">Uploading…</span>`}
      <${ErrorNote} error=${send.error || remove.error} />
    </div>
  </div>`;
}

/** Deleting follows the catalog's rules: a movie anyone bought or ordered is kept (withdraw it instead); one
 * in carts needs a second confirmation, then leaves those carts. */
function DeleteMovie({ movie }) {
  const [inCarts, setInCarts] = useState(null);
  const [kept, setKept] = useState(null);
  const remove = useAction(async (confirmInCarts) => {
    if (!confirmInCarts && !confirm(`Delete “${movie.name}” from the catalog?`)) return;
    try {
      await gql(Q.DELETE_MOVIE, { id: movie.id, confirm: confirmInCarts || null });
      navigate('/staff/movies', { replace: true });
    } catch (error) {
      if (error.code !== 'CONFLICT') throw error;
      if (error.extensions.carts) setInCarts(error.extensions.carts);
      else setKept(error.message);
    }
  });
  return html`<section class="danger-zone" aria-labelledby="delete-title">
    <h2 id="delete-title">Delete</h2>
    ${kept
      ? html`<p class="warning" role="alert">${kept} Withdraw it from sale instead.</p>`
      : inCarts
        ? html`<p class="warning" role="alert">It is in ${inCarts} cart(s). Deleting it removes it from them.</p>
            <button type="button" class="danger" onClick=${() => remove.run(true)} disabled=${remove.busy}>
              Delete and remove from ${inCarts} cart(s)</button>`
        : html`<button type="button" class="danger" onClick=${() => remove.run(false)} disabled=${remove.busy}>Delete this movie</button>`}
    <${ErrorNote} error=${remove.error} />
  </section>`;
}
