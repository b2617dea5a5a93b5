// Small behaviours of the shell; the CSP forbids inline scripts, so pages hook in with data- attributes.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    // "返回上一页" buttons.
    document.querySelectorAll(".js-back").forEach(function (el) {
      el.addEventListener("click", function (ev) {
        if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
      });
    });
    // Buttons/forms asking for confirmation: data-confirm="确定停用该客户端？"
    document.addEventListener("submit", function (ev) {
      var msg = ev.target.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) ev.preventDefault();
    }, true);
    document.addEventListener("click", function (ev) {
      var el = ev.target.closest("a[data-confirm], button[data-confirm]:not([type=submit])");
      if (el && !window.confirm(el.getAttribute("data-confirm"))) ev.preventDefault();
    }, true);
    // Copy-to-clipboard: data-copy-target="#token"
    document.querySelectorAll("[data-copy-target]").forEach(function (el) {
      el.addEventListener("click", function () {
        var src = document.querySelector(el.getAttribute("data-copy-target"));
        if (!src || !navigator.clipboard) return;
        navigator.clipboard.writeText(src.textContent.trim()).then(function () {
          el.textContent = "已复制";
        });
      });
    });
    // Auto-submit selects in search forms: <select data-autosubmit>
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form && el.form.submit(); });
    });
  });
  // htmx: send the CSRF token with every non-GET request (also set via hx-headers on <body>).
  document.addEventListener("htmx:configRequest", function (ev) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) ev.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
  });
})();
