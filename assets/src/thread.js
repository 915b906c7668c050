// One conversation: its messages oldest first, "Load earlier", a composer that shows the
// message at once and confirms it when the server has it, and rename / archive / delete.
import { api, qs } from './api.js';
import { h, replace, focus } from './dom.js';
import { alertBox, showError, clearNotice, announce } from './notice.js';
import { avatar, AVATAR } from './images.js';
import { when, full } from './time.js';
import { titleOf } from './conversations.js';

const SHOW = 50;        // messages revealed per "Load earlier"
const FETCH = 500;      // the API's largest page
const MAX_PAGES = 10;   // bound on a single open: 5,000 messages

export function renderThread(main, id, { list, user, onGone }) {
  const state = { conv: list.find(id) || null, messages: [], shown: SHOW };
  const box = alertBox();
  const heading = h('h2', { class: 'title', dir: 'auto', tabindex: '-1' }, state.conv ? titleOf(state.conv) : 'Loading…');
  const actions = h('div', { class: 'actions' });
  const earlier = h('button', { type: 'button', class: 'more', hidden: true, onclick: showEarlier }, 'Load earlier messages');
  const ol = h('ol', { class: 'messages', 'aria-label': 'Messages' });
  const scroller = h('div', { class: 'scroll' }, earlier, ol);
  const text = h('textarea', { id: 'composer', name: 'content', dir: 'auto', rows: '2', required: true, maxlength: '65536',
    placeholder: 'Write a message…', enterkeyhint: 'send', 'aria-describedby': 'composer-hint',
    onkeydown: (e) => { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); } } });
  const form = h('form', { class: 'composer', onsubmit: send },
    h('label', { for: 'composer', class: 'visually-hidden' }, 'Message'),
    h('p', { id: 'composer-hint', class: 'visually-hidden' }, 'Enter sends; Shift+Enter starts a new line.'),
    text, h('button', { type: 'submit', class: 'primary' }, 'Send'));
  const back = h('a', { href: '#/', class: 'back' }, '← Conversations');

  replace(main, h('header', { class: 'thread-head' }, back, heading, actions), box, scroller, form);
  renderActions();
  load();

  // Another view took the page meanwhile: this conversation's late answers change nothing.
  function left() { return !scroller.isConnected; }

  async function load() {
    clearNotice(box);
    try {
      if (!state.conv) state.conv = await api('GET', '/api/conversations/' + encodeURIComponent(id));
      if (left()) return;
      showTitle();
      renderActions();
      // The API pages forward from the oldest message; the newest are the ones shown first,
      // so read every page (bounded), then reveal earlier ones on request.
      let cursor = null;
      const all = [];
      for (let i = 0; i < MAX_PAGES && !left(); i++) {
        const page = await api('GET', '/api/conversations/' + encodeURIComponent(id) + '/messages' + qs({ limit: FETCH, cursor }));
        all.push(...page.items);
        cursor = page.next;
        if (!cursor) break;
      }
      // Messages sent meanwhile stay: these pages may have been read before they were stored.
      const have = new Set(all.map((m) => m.id));
      state.messages = all.concat(state.messages.filter((m) => !have.has(m.id)));
      render(true);
    } catch (err) {
      if (left()) return;
      if (err.status === 404) { onGone(id, err.message); return; }
      showError(box, err, load);
    }
  }

  function showTitle() {
    heading.textContent = titleOf(state.conv);
    document.title = heading.textContent + ' · tessera';
  }

  function showEarlier() {
    const before = scroller.scrollHeight - scroller.scrollTop;
    state.shown += SHOW;
    render(false);
    scroller.scrollTop = scroller.scrollHeight - before;  // keep the reader's place
    // Focus stays on the button while there is more; after the last page it would vanish
    // with the focus, so the first message takes it, without scrolling away.
    if (earlier.hidden && ol.firstElementChild) {
      ol.firstElementChild.tabIndex = -1;
      ol.firstElementChild.focus({ preventScroll: true });
    }
  }

  // dir=auto on everything people write: Hebrew or Arabic runs right to left, its punctuation
  // at its end, and a stray direction override stays inside its element.
  function item(m) {
    const who = m.role === 'user' ? (user.name || 'You') : m.role === 'assistant' ? 'Assistant' : 'System';
    return h('li', { class: 'msg ' + m.role + (m.pending ? ' pending' : '') + (m.failed ? ' failed' : '') },
      avatar(AVATAR[m.role] || AVATAR.assistant, '', true),
      h('div', { class: 'bubble' },
        h('p', { class: 'meta' }, h('strong', {}, who), ' ',
          m.created_at ? h('time', { datetime: m.created_at, title: full(m.created_at) }, when(m.created_at)) : h('span', { class: 'muted' }, 'sending…')),
        h('p', { class: 'content', dir: 'auto' }, m.content),
        m.failed ? h('p', { class: 'error' }, m.failed, ' ', h('button', { type: 'button', class: 'link', onclick: () => post(m) }, 'Retry')) : null));
  }

  function render(toBottom) {
    const start = Math.max(0, state.messages.length - state.shown);
    replace(ol, state.messages.slice(start).map(item));
    earlier.hidden = start === 0;
    if (!state.messages.length) ol.append(h('li', { class: 'muted empty' }, 'No messages yet. Write the first one below.'));
    if (toBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  async function send(e) {
    e.preventDefault();
    const content = text.value.trim();
    if (!content) return;
    text.value = '';
    const m = { id: 'pending-' + Date.now(), role: 'user', content, pending: true };
    state.messages.push(m);
    state.shown++;
    render(true);
    await post(m);
    focus(text);
  }

  // One request at a time, in the order written: two in flight could reach the server, and
  // take their timestamps, the other way round. postNow never rejects.
  let sending = Promise.resolve();
  function post(m) {
    sending = sending.then(() => postNow(m));
    return sending;
  }

  // Shows the message at once; replaces it by the stored one, or marks it failed with Retry.
  async function postNow(m) {
    m.failed = null;
    m.pending = true;
    render(false);
    try {
      const saved = await api('POST', '/api/conversations/' + encodeURIComponent(id) + '/messages', { role: 'user', content: m.content });
      Object.assign(m, saved, { pending: false });
      if (state.conv) list.upsert({ ...state.conv, updated_at: saved.created_at || new Date().toISOString() });
    } catch (err) {
      m.pending = false;
      if (err.retry) m.failed = 'Not sent: ' + err.message;
      else {
        // Sending it again would fail the same way (too long, conversation gone): the text
        // goes back into the composer to be changed, rather than a Retry that cannot work.
        const i = state.messages.indexOf(m);
        if (i >= 0) { state.messages.splice(i, 1); state.shown--; }
        if (!text.value) text.value = m.content;
        showError(box, { message: 'Not sent: ' + err.message });
      }
    }
    render(true);
  }

  function renderActions() {
    const c = state.conv;
    replace(actions, c ? [
      h('button', { type: 'button', onclick: rename }, 'Rename'),
      h('button', { type: 'button', onclick: () => patch({ archived: !c.archived }, c.archived ? 'Conversation restored.' : 'Conversation archived.') },
        c.archived ? 'Unarchive' : 'Archive'),
      h('button', { type: 'button', class: 'danger', onclick: confirmDelete }, 'Delete'),
    ] : []);
  }

  async function patch(body, done) {
    clearNotice(box);
    try {
      const updated = await api('PATCH', '/api/conversations/' + encodeURIComponent(id), body);
      state.conv = { ...state.conv, ...body, ...(updated || {}) };
      showTitle();
      list.upsert(state.conv);
      renderActions();
      announce(done);
      return true;
    } catch (err) {
      // Deleted in another tab or device: off the list, like a conversation found gone on opening.
      if (err.status === 404) onGone(id, err.message);
      else showError(box, err, () => patch(body, done));
      return false;
    }
  }

  // Rename in place: the heading becomes a small form; Escape cancels.
  function rename() {
    const input = h('input', { id: 'rename', value: state.conv.title, dir: 'auto', required: true, maxlength: '200',
      onkeydown: (e) => { if (e.key === 'Escape') cancel(); } });
    const f = h('form', { class: 'rename', onsubmit: async (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (t && t !== state.conv.title && !(await patch({ title: t }, 'Conversation renamed.'))) return;
      cancel();
    } },
      h('label', { for: 'rename', class: 'visually-hidden' }, 'Title'), input,
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => cancel() }, 'Cancel'));
    function cancel() { f.replaceWith(heading); actions.hidden = false; focus(heading); }
    heading.replaceWith(f);
    actions.hidden = true;
    input.select();
  }

  function confirmDelete() {
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'del-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'del-title' }, 'Delete “', h('bdi', {}, titleOf(state.conv)), '”?'),
        h('p', {}, 'Its messages are deleted too. This cannot be undone.'),
        h('div', { class: 'actions' },
          h('button', { value: 'cancel', autofocus: true }, 'Cancel'),
          h('button', { value: 'delete', class: 'danger' }, 'Delete'))));
    dlg.addEventListener('close', async () => {
      dlg.remove();
      if (dlg.returnValue !== 'delete') return;
      try {
        await api('DELETE', '/api/conversations/' + encodeURIComponent(id));
        list.remove(id);
        announce('Conversation deleted.');
        location.hash = '#/';
      } catch (err) {
        if (err.status === 404) onGone(id, err.message);   // already gone: as good as deleted
        else showError(box, err, confirmDelete);
      }
    });
    document.body.append(dlg);
    dlg.showModal();
  }

  return { focus: () => focus(heading), refresh: () => render(false) };
}
