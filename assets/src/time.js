// Dates in the person's chosen language (the `lang` of <html>, set from preferences).
const cache = new Map();
function fmt(opts) {
  const key = document.documentElement.lang + JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.DateTimeFormat(document.documentElement.lang || 'en', opts));
  return cache.get(key);
}

// Today: the time; this year: day and month; older: the full date.
export function when(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return fmt({ hour: '2-digit', minute: '2-digit' }).format(d);
  if (d.getFullYear() === now.getFullYear()) return fmt({ day: 'numeric', month: 'short' }).format(d);
  return fmt({ dateStyle: 'medium' }).format(d);
}

export const full = (iso) => fmt({ dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
