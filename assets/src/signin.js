// The sign-in view: email and password to POST /api/auth/sign-in.
import { api } from './api.js';
import { h, replace, focus } from './dom.js';
import { alertBox, showError } from './notice.js';

// hero: the illustration element from index.html, moved here rather than re-created so the
// browser never fetches or paints it twice. note: why we are here ("Your session ended").
export function renderSignIn(root, { hero, note, onSignedIn }) {
  const box = alertBox();
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');

  async function onSubmit(e) {
    e.preventDefault();
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const res = await api('POST', '/api/auth/sign-in', { email: email.value.trim(), password: password.value }, { auth: false });
      onSignedIn(res && res.user ? res.user : res);
    } catch (err) {
      showError(box, err, () => form.requestSubmit());
      submit.disabled = false;
      submit.textContent = 'Sign in';
      password.select();
      focus(err.status === 401 ? password : box);
    }
  }

  const form = h('form', { class: 'card signin', onsubmit: onSubmit, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to tessera'),
    note ? h('p', { class: 'muted' }, note) : null,
    h('div', { class: 'field' }, h('label', { for: 'email' }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password),
    box,
    submit);

  const main = h('main', { id: 'main', class: 'welcome', tabindex: '-1' }, hero ? h('figure', { class: 'hero' }, hero) : null, form);
  replace(root, main);
  focus(email);
}
