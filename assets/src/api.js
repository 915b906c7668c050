// The /api client: JSON in and out, and every failure turned into an ApiError whose message
// is fit to show a person, with `retry` telling whether trying again can help.

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    // Network failures, timeouts, busy and broken servers may well pass on a second try;
    // a 4xx will fail the same way again.
    this.retry = status === 0 || status === 408 || status === 429 || status >= 500;
  }
}

function describe(status, err) {
  if (status === 0) return 'Cannot reach the server. Check your connection and try again.';
  if (status === 503 || status === 429) return 'The server is busy right now. Please try again in a moment.';
  if (status >= 500) return 'The server ran into a problem. Please try again.';
  if (status === 404) return 'That conversation no longer exists.';
  if (status === 413) return 'That is too long to save.';
  if (err && err.message) return err.message.charAt(0).toUpperCase() + err.message.slice(1);
  if (status === 401) return 'Please sign in.';
  if (status === 403) return 'You are not allowed to do that.';
  return 'The request could not be completed (' + status + ').';
}

// api('GET', '/api/me'); api('POST', '/api/conversations', {title}).
// opts.auth === false: a 401 is the caller's business (sign-in), not "session ended".
export async function api(method, path, body, opts = {}) {
  // No extra headers on GET: a GET must look exactly like index.html's <link rel=preload>
  // for the browser to hand over the preloaded response.
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', describe(0));
  }
  const text = res.status === 204 ? '' : await res.text().catch(() => '');
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { /* a proxy's HTML error page: described by status */ }
  }
  if (res.ok) return data;
  const err = (data && data.error) || {};
  if (res.status === 401 && opts.auth !== false) onUnauthorized();
  throw new ApiError(res.status, err.code || 'http_' + res.status, describe(res.status, err), err.field);
}

export const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
};
