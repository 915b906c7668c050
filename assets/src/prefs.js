// Preferences: theme, language, density. Applied to <html> at once, kept in localStorage
// for theme.js (no flash on reload) and saved with PUT /api/preferences/{key}.
import { api } from './api.js';
import { h, focus } from './dom.js';
import { alertBox, showError, clearNotice, announce } from './notice.js';

const UI_KEY = 'tessera.ui';

export const CHOICES = {
  theme: [['system', 'Match the system'], ['light', 'Light'], ['dark', 'Dark']],
  density: [['comfortable', 'Comfortable'], ['compact', 'Compact']],
  language: [['en', 'English'], ['de', 'Deutsch'], ['fr', 'Français'], ['es', 'Español']],
};
const DEFAULTS = { theme: 'system', density: 'comfortable', language: 'en' };

export const prefs = { ...DEFAULTS, ...readLocal() };

function readLocal() {
  try { return JSON.parse(localStorage.getItem(UI_KEY) || '{}'); } catch { return {}; }
}

function valid(key, value) {
  return CHOICES[key].some(([v]) => v === value);
}

// Mirrors theme.js: the same attributes, so the server's answer and the pre-paint guess agree.
export function applyPrefs() {
  const d = document.documentElement;
  if (prefs.theme === 'light' || prefs.theme === 'dark') d.dataset.theme = prefs.theme;
  else delete d.dataset.theme;
  if (prefs.density === 'compact') d.dataset.density = 'compact';
  else delete d.dataset.density;
  d.lang = prefs.language;
  try {
    localStorage.setItem(UI_KEY, JSON.stringify({ theme: prefs.theme, density: prefs.density, language: prefs.language }));
  } catch { /* private mode: this visit still works */ }
}

// The server's values win over the local copy; unknown values fall back to the defaults.
export function mergeServerPrefs(server) {
  for (const key of Object.keys(DEFAULTS)) {
    const v = server ? server[key] : undefined;
    if (v !== undefined) prefs[key] = valid(key, v) ? v : DEFAULTS[key];
  }
  applyPrefs();
}

export function forgetLocalPrefs() {
  try { localStorage.removeItem(UI_KEY); } catch { /* nothing to forget */ }
}

async function save(key, value, box, previous) {
  clearNotice(box);
  try {
    await api('PUT', '/api/preferences/' + key, { value });
    announce('Preference saved.');
  } catch (err) {
    // Refused for good (403 immutable, 400): the screen and the local copy go back to what
    // the server keeps, or every reload would flash this value before the server's.
    if (!err.retry && prefs[key] === value) {
      apply(key, previous);
      const form = box.closest('form');
      for (const el of form ? form.elements : []) {
        if (el.name !== key) continue;
        if (el.type === 'radio') el.checked = el.value === previous;
        else el.value = previous;
      }
    }
    showError(box, err, () => save(key, value, box, previous));
  }
}

function apply(key, value) {
  prefs[key] = value;
  applyPrefs();
  // Dates are formatted when rendered: the views redraw for a new language.
  if (key === 'language') window.dispatchEvent(new Event('tessera:language'));
}

function set(key, value, box) {
  const previous = prefs[key];
  if (previous === value) return;
  apply(key, value);
  save(key, value, box, previous);
}

function radios(key, legend, box) {
  return h('fieldset', { class: 'choices' },
    h('legend', {}, legend),
    CHOICES[key].map(([value, label]) => h('label', {},
      h('input', { type: 'radio', name: key, value, checked: prefs[key] === value,
        onchange: () => set(key, value, box) }),
      ' ', label)));
}

// A modal <dialog>: focus is trapped by the browser and Escape closes it.
export function openPrefsDialog(opener) {
  const box = alertBox();
  const select = h('select', { id: 'pref-language', name: 'language', onchange: (e) => set('language', e.target.value, box) },
    CHOICES.language.map(([v, label]) => h('option', { value: v, selected: prefs.language === v }, label)));
  const dlg = h('dialog', { class: 'prefs', 'aria-labelledby': 'prefs-title' },
    h('form', { method: 'dialog' },
      h('h2', { id: 'prefs-title' }, 'Preferences'),
      radios('theme', 'Theme', box),
      h('div', { class: 'field' }, h('label', { for: 'pref-language' }, 'Language (dates and times)'), select),
      radios('density', 'Density', box),
      box,
      h('div', { class: 'actions' }, h('button', { class: 'primary', value: 'close' }, 'Done'))));
  dlg.addEventListener('close', () => { dlg.remove(); focus(opener); });
  document.body.append(dlg);
  dlg.showModal();
}
