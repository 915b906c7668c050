// What the dashboard asks for first. index.html preloads exactly these URLs (build.mjs reads
// this module), so the requests leave with the HTML instead of after the app has loaded;
// main.js then receives the preloaded responses. Keep the two in step by importing, not copying.
// Two, not more: with HTTP/1.1's six connections per host, the CSS, two scripts, these and
// the illustration all start at once. Preferences wait for /api/me; theme.js covers them.
export const BOOT = {
  me: '/api/me',
  list: '/api/conversations?archived=false&limit=20',
};
