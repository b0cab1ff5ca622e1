// Genres, people and certifications: the named things of the catalog, each created, renamed and deleted.
import { useState } from '../vendor/htm-preact.js';
import { gql } from '../api.js';
import * as Q from './queries.js';
import { CHOICES, PEOPLE } from './queries.js';
import { ErrorNote, Field, Loading, html, useAction, useLoad, useTitle } from '../ui.js';

/** One editable list: each entry renamed in place or deleted (after a confirmation), and a form to add one. */
function NamedList({ title, noun, items, loading, error, reload, create, rename, remove, describe }) {
  const [name, setName] = useState('');
  const add = useAction(async (event) => {
    event.preventDefault();
    await create(name.trim());
    setName('');
    reload();
  });
  return html`<h1>${title}</h1>
    <form class="inline-form" onSubmit=${add.run}>
      <${Field} label=${`New ${noun}`} required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      <button type="submit" disabled=${add.busy || !name.trim()}>Add</button>
    </form>
    <${ErrorNote} error=${add.error || error} />
    ${loading && !items && html`<${Loading} />`}
    <ul class="lines">
      ${(items || []).map((item) => html`<${NamedItem} key=${item.id} item=${item} noun=${noun} rename=${rename}
        remove=${remove} describe=${describe} reload=${reload} />`)}
    </ul>`;
}

function NamedItem({ item, noun, rename, remove, describe, reload }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(item.name);
  const save = useAction(async (event) => {
    event.preventDefault();
    await rename(item.id, name.trim());
    setEditing(false);
    reload();
  });
  const drop = useAction(async () => {
    if (!confirm(`Delete the ${noun} “${item.name}”?`)) return;
    await remove(item.id);
    reload();
  });
  return html`<li>
    ${editing
      ? html`<form class="inline-form grow" onSubmit=${save.run}>
          <${Field} label=${`Rename ${item.name}`} required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
          <button type="submit" disabled=${save.busy}>Save</button>
          <button type="button" onClick=${() => setEditing(false)}>Cancel</button>
        </form>`
      : html`<span class="grow">${item.name}${describe && html` <span class="muted">${describe(item)}</span>`}</span>
          <button type="button" class="link" onClick=${() => setEditing(true)}>Rename</button>
          <button type="button" class="link danger" onClick=${drop.run} disabled=${drop.busy}>Delete</button>`}
    <${ErrorNote} error=${save.error || drop.error} />
  </li>`;
}

export function StaffGenres() {
  useTitle('Staff · Genres');
  const list = useLoad(() => gql(CHOICES), []);
  return html`<${NamedList} title="Genres" noun="genre" items=${list.data?.genres} loading=${list.loading}
    error=${list.error} reload=${list.reload}
    describe=${(g) => `${g.movieCount} movies (they stay, without it, if it is deleted)`}
    create=${(name) => gql(Q.CREATE_GENRE, { name })}
    rename=${(id, name) => gql(Q.UPDATE_GENRE, { id, name })}
    remove=${(id) => gql(Q.DELETE_GENRE, { id })} />`;
}

export function StaffCertifications() {
  useTitle('Staff · Certifications');
  const list = useLoad(() => gql(CHOICES), []);
  return html`<${NamedList} title="Certifications" noun="certification" items=${list.data?.certifications}
    loading=${list.loading} error=${list.error} reload=${list.reload}
    create=${(name) => gql(Q.CREATE_CERTIFICATION, { name })}
    rename=${(id, name) => gql(Q.UPDATE_CERTIFICATION, { id, name })}
    remove=${(id) => gql(Q.DELETE_CERTIFICATION, { id })} />
    <p class="muted">A certification that movies carry cannot be deleted.</p>`;
}

export function StaffPeople() {
  useTitle('Staff · People');
  const [text, setText] = useState('');
  const list = useLoad(() => (text.trim() ? gql(PEOPLE, { text }).then((d) => d.people) : Promise.resolve([])), [text]);
  return html`<div class="field narrow">
      <label for="people-search">Find people by name</label>
      <input id="people-search" type="search" value=${text} onInput=${(e) => setText(e.target.value)} />
    </div>
    <${NamedList} title="People" noun="person" items=${list.data} loading=${list.loading} error=${list.error}
      reload=${list.reload}
      create=${(name) => gql(Q.CREATE_PERSON, { name })}
      rename=${(id, name) => gql(Q.UPDATE_PERSON, { id, name })}
      remove=${(id) => gql(Q.DELETE_PERSON, { id })} />`;
}
