// Error and status messages shown in words, with a Retry button when retrying can help.
import { h, replace } from './dom.js';

// Puts the error into `box` (a role=alert region). retryFn is offered only when err.retry.
export function showError(box, err, retryFn) {
  const msg = err && err.message ? err.message : String(err);
  const retry = retryFn && err && err.retry
    ? h('button', { type: 'button', class: 'link', onclick: () => { clearNotice(box); retryFn(); } }, 'Retry')
    : null;
  replace(box, h('p', { class: 'error' }, msg, ' ', retry));
  box.hidden = false;
}

export function clearNotice(box) {
  box.replaceChildren();
  box.hidden = true;
}

export const alertBox = () => h('div', { class: 'notice', role: 'alert', hidden: true });

// Polite announcements ("Conversation archived.") for screen readers and sighted users alike.
let statusEl;
export function announce(text) {
  if (!statusEl) {
    statusEl = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(statusEl);
  }
  statusEl.textContent = text;
  clearTimeout(announce.t);
  announce.t = setTimeout(() => { statusEl.textContent = ''; }, 4000);
}
