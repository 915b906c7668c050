// Runs in <head> before the first paint (classic script, not a module): applies the theme,
// density and language saved by the last visit so a reload shows the right colours at once.
// The app later refreshes this copy from GET /api/preferences; see prefs.js (UI_KEY).
(function () {
  var d = document.documentElement;
  try {
    var p = JSON.parse(localStorage.getItem('tessera.ui') || '{}');
    if (p.theme === 'light' || p.theme === 'dark') d.setAttribute('data-theme', p.theme);
    if (p.density === 'compact') d.setAttribute('data-density', 'compact');
    if (typeof p.language === 'string' && /^[a-z]{2}(-[A-Z]{2})?$/.test(p.language)) d.lang = p.language;
  } catch (e) { /* storage disabled or corrupt: the system theme applies */ }
})();
