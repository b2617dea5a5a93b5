// The meeting proposal page: sessions are collapsed; one opens at a time and loads its body
// (demands, invitees, 1:1 timetable) when opened; a link to #session-N opens that session.
(function () {
  "use strict";
// one session open at a time; a link to #session-N opens it
function loadBody(d) { var b = d.querySelector('[data-body]'); if (b && window.htmx) htmx.trigger(b, 'sessionopen'); }
document.addEventListener('toggle', function (e) {
  if (!e.target.matches || !e.target.matches('details.session-card') || !e.target.open) return;
  document.querySelectorAll('details.session-card[open]').forEach(function (d) { if (d !== e.target) d.open = false; });
  loadBody(e.target);
}, true);
window.addEventListener('load', function () { document.querySelectorAll('details.session-card[open]').forEach(loadBody); });
function openFromHash() { var d = location.hash && document.querySelector(location.hash); if (d && d.tagName === 'DETAILS') { d.open = true; d.scrollIntoView(); } }
window.addEventListener('hashchange', openFromHash); window.addEventListener('load', openFromHash);
})();
