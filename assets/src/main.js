// Boot and routing. /api/me and the first page of conversations are preloaded by index.html
// (boot-urls.js), so a signed-in visit renders one round trip after the HTML arrives.
import { api, setUnauthorizedHandler } from './api.js';
import { h, replace, focus } from './dom.js';
import { renderSignIn } from './signin.js';
import { createList } from './conversations.js';
import { renderThread } from './thread.js';
import { mergeServerPrefs, applyPrefs, forgetLocalPrefs, openPrefsDialog } from './prefs.js';
import { avatar, AVATAR } from './images.js';
import { announce } from './notice.js';
import { BOOT } from './boot-urls.js';

const root = document.getElementById('app');
// The illustration painted from index.html: moved between views, never re-created.
const hero = document.getElementById('hero');
let session = null;   // { user, list, main, layout, thread } while signed in

applyPrefs();
setUnauthorizedHandler(() => {
  if (session) signOutLocally('Your session has ended. Please sign in again.');
});
window.addEventListener('hashchange', route);
// "Skip to content" moves focus only: followed, its #main would be taken for the home route
// and close the conversation being read.
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  focus(document.getElementById('main'));
});
window.addEventListener('tessera:language', () => {
  if (!session) return;
  session.list.refresh();
  // Only the dates change: the open conversation keeps its draft, scroll and earlier messages.
  if (session.thread) session.thread.refresh();
});
boot();

async function boot() {
  const me = api('GET', BOOT.me, undefined, { auth: false });
  const firstPage = api('GET', BOOT.list, undefined, { auth: false });
  // Signed out, the list's 401 is expected: handled here rather than reported as unhandled.
  firstPage.catch(() => {});
  let user;
  try {
    user = await me;
  } catch (err) {
    if (err.status === 401) showSignIn(null);
    else showBootError(err);
    return;
  }
  startDashboard(user, firstPage);
}

// The server could not say who we are (down, busy, no network): say so, and offer Retry
// rather than a sign-in form that would fail the same way.
function showBootError(err) {
  const retry = h('button', { type: 'button', class: 'primary', onclick: () => { retry.disabled = true; boot(); } }, 'Retry');
  replace(root, h('main', { id: 'main', class: 'welcome', tabindex: '-1' },
    h('figure', { class: 'hero' }, hero),
    h('div', { class: 'card signin', role: 'alert' },
      h('h1', {}, 'tessera'), h('p', { class: 'error' }, err.message), retry)));
  focus(retry);
}

function showSignIn(note) {
  session = null;
  // A dialog left open (preferences, delete) would stay modal over the sign-in form.
  for (const dlg of document.querySelectorAll('dialog[open]')) dlg.close();
  document.title = 'Sign in · tessera';
  renderSignIn(root, { hero, note, onSignedIn: (user) => startDashboard(user) });
}

function startDashboard(user, firstPage) {
  api('GET', '/api/preferences').then(mergeServerPrefs, () => {});
  const list = createList({});
  const main = h('main', { id: 'main', class: 'thread', tabindex: '-1' });
  const prefsBtn = h('button', { type: 'button', onclick: () => openPrefsDialog(prefsBtn) }, 'Preferences');
  const header = h('header', { class: 'top' },
    h('a', { href: '#/', class: 'brand' }, 'tessera'),
    h('div', { class: 'who' }, avatar(AVATAR.user, ''), h('span', { class: 'name' }, user.name || user.email)),
    h('nav', { class: 'account', 'aria-label': 'Account' }, prefsBtn,
      h('button', { type: 'button', onclick: signOut }, 'Sign out')));
  const layout = h('div', { class: 'layout' }, list.el, main);
  // index.html's "Skip to content" link stays in place and still points at #main.
  replace(root, header, layout);
  session = { user, list, main, layout, thread: null };
  list.load(true, firstPage);
  route();
}

function route() {
  if (!session) return;
  const { list, main, layout, user } = session;
  const m = /^#\/c\/([^/]+)$/.exec(location.hash);
  const id = m ? decodeId(m[1]) : null;
  list.setCurrent(id);
  // On narrow screens the list and the conversation take turns on the screen.
  layout.classList.toggle('has-thread', Boolean(id));
  if (id) {
    session.thread = renderThread(main, id, { list, user, onGone: (goneId, msg) => { list.remove(goneId); announce(msg); location.hash = '#/'; } });
    session.thread.focus();
  } else {
    session.thread = null;
    document.title = 'tessera';
    replace(main, h('section', { class: 'empty-state' },
      h('figure', { class: 'hero' }, hero),
      h('h2', {}, 'Hello' + (user.name ? ', ' + user.name.split(' ')[0] : '')),
      h('p', { class: 'muted' }, 'Pick a conversation, or start a new one.')));
    if (document.activeElement === document.body) focus(main.querySelector('h2'));
  }
}

// A mangled address (#/c/%E0) is kept as typed: the API answers 404 and the thread says so,
// where decodeURIComponent would throw out of the hashchange handler.
function decodeId(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

async function signOut() {
  try {
    await api('POST', '/api/auth/sign-out', undefined, { auth: false });
  } catch (err) {
    // A 401 means the session was already gone: signed out either way.
    if (err.status !== 401) { announce('Could not sign out: ' + err.message); return; }
  }
  signOutLocally(null);
}

// note set: the session ended by itself; the address is kept so signing in again returns
// to the same conversation. An explicit sign-out also forgets the address and local prefs.
function signOutLocally(note) {
  if (!note) {
    forgetLocalPrefs();
    history.replaceState(null, '', location.pathname);
  }
  showSignIn(note);
  if (!note) announce('Signed out.');
}
