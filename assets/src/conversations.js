// The conversation list: newest first, active or archived, "Load more" through the API's
// keyset cursor, and a form to start a new conversation.
import { api, qs } from './api.js';
import { h, replace, focus } from './dom.js';
import { alertBox, showError, clearNotice } from './notice.js';
import { when } from './time.js';

const PAGE = 20;

// The API refuses blank titles, but rows stored before it did (or by SQL) may hold one:
// those read "Untitled", not as a row without a name.
export const titleOf = (c) => c.title.trim() || 'Untitled';

export function createList({ firstPage }) {
  const state = { archived: false, items: [], next: null, current: null, loading: false };
  const box = alertBox();
  const ul = h('ul', { class: 'convs', 'aria-label': 'Conversations' });
  const empty = h('p', { class: 'muted empty', hidden: true });
  const more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => load(false) }, 'Load more');
  const tabs = [false, true].map((archived) => h('button', {
    type: 'button', 'aria-pressed': String(archived === state.archived),
    onclick: () => { if (state.archived !== archived) { state.archived = archived; load(true); } },
  }, archived ? 'Archived' : 'Active'));

  const title = h('input', { id: 'new-title', name: 'title', dir: 'auto', required: true, maxlength: '200', autocomplete: 'off' });
  const createBtn = h('button', { type: 'submit', class: 'primary' }, 'Create');
  const form = h('form', { class: 'new', onsubmit: create },
    h('label', { for: 'new-title' }, 'New conversation'),
    h('div', { class: 'row' }, title, createBtn));

  const el = h('nav', { class: 'sidebar', 'aria-label': 'Conversations' },
    form, h('div', { class: 'tabs', role: 'group', 'aria-label': 'Show' }, tabs), box, ul, empty, more);

  async function create(e) {
    e.preventDefault();
    const t = title.value.trim();
    if (!t) return;
    createBtn.disabled = true;
    clearNotice(box);
    try {
      const conv = await api('POST', '/api/conversations', { title: t });
      title.value = '';
      if (state.archived) { state.archived = false; await load(true); }
      upsert(conv);
      location.hash = '#/c/' + conv.id;
    } catch (err) {
      showError(box, err, () => form.requestSubmit());
    } finally {
      createBtn.disabled = false;
    }
  }

  // A reset (tab switch) supersedes any load in flight; "Load more" runs one at a time.
  let seq = 0;
  async function load(reset, pagePromise) {
    if (!reset && state.loading) return;
    const mine = ++seq;
    state.loading = true;
    clearNotice(box);
    more.disabled = true;
    if (reset) { state.items = []; state.next = null; render(); }
    const cursor = reset ? null : state.next;
    try {
      const page = await (pagePromise ||
        api('GET', '/api/conversations' + qs({ archived: String(state.archived), limit: PAGE, cursor })));
      if (mine !== seq) return;
      const seen = new Set(state.items.map((c) => c.id));
      state.items.push(...page.items.filter((c) => !seen.has(c.id)));
      state.next = page.next || null;
    } catch (err) {
      // A cursor from before a redeploy with another cursor key: start over, as docs/API.md says.
      if (mine === seq && err.code === 'invalid_cursor' && !reset) return load(true);
      if (mine === seq) showError(box, err, () => load(reset));
    } finally {
      if (mine === seq) {
        state.loading = false;
        more.disabled = false;
        render();
      }
    }
  }

  function sort() {
    state.items.sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0));
  }

  // A new or changed conversation: shown in this list only if it belongs to the current tab.
  function upsert(conv) {
    const i = state.items.findIndex((c) => c.id === conv.id);
    const belongs = Boolean(conv.archived) === state.archived;
    if (i >= 0 && !belongs) state.items.splice(i, 1);
    else if (i >= 0) state.items[i] = { ...state.items[i], ...conv };
    else if (belongs) state.items.unshift(conv);
    sort();
    render();
  }

  function remove(id) {
    state.items = state.items.filter((c) => c.id !== id);
    render();
  }

  function setCurrent(id) {
    state.current = id;
    render();
  }

  function render() {
    tabs.forEach((b, i) => b.setAttribute('aria-pressed', String(Boolean(i) === state.archived)));
    const hadFocus = ul.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    replace(ul, state.items.map((c) => h('li', {},
      h('a', { href: '#/c/' + c.id, 'data-id': c.id, 'aria-current': c.id === state.current ? 'page' : null },
        h('span', { class: 'title', dir: 'auto' }, titleOf(c)),
        h('time', { datetime: c.updated_at, class: 'muted' }, when(c.updated_at))))));
    if (hadFocus) focus(ul.querySelector('[data-id="' + hadFocus + '"]'));
    empty.hidden = state.loading || state.items.length > 0;
    empty.textContent = state.archived ? 'No archived conversations.' : 'No conversations yet. Start one above.';
    more.hidden = !state.next;
  }

  return { el, load, upsert, remove, setCurrent, refresh: render, find: (id) => state.items.find((c) => c.id === id), focusNew: () => focus(title) };
}
