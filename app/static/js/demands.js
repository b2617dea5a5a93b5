// Demand pages: mark the fields the effectiveness check names, count the expert shortlist.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // Intake form: put a warning outline on every field the latest check names.
  function markHintedFields() {
    var form = document.getElementById("demand-form");
    var result = document.querySelector("#check-panel .check-result");
    if (!form || !result) return;
    var names = (result.getAttribute("data-fields") || "").split(" ").filter(Boolean);
    form.querySelectorAll(".has-hint").forEach(function (el) { el.classList.remove("has-hint"); });
    names.forEach(function (name) {
      var field = form.querySelector("#f-" + name);
      if (field) field.classList.add("has-hint");
    });
  }

  // Expert search: number of experts ticked, and no empty send.
  function shortlist() {
    var form = document.getElementById("shortlist-form");
    if (!form) return;
    var counter = document.getElementById("picked-count");
    var button = document.getElementById("send-btn");
    function update() {
      var n = form.querySelectorAll("input.pick:checked").length;
      if (counter) counter.textContent = String(n);
      if (button) button.disabled = n === 0;
      form.querySelectorAll("tr.expert-row").forEach(function (row) {
        var box = row.querySelector("input.pick");
        row.classList.toggle("picked", !!(box && box.checked));
      });
    }
    form.addEventListener("change", update);
    update();
  }

  ready(function () {
    markHintedFields();
    shortlist();
    // A hint's field link focuses the field.
    document.addEventListener("click", function (ev) {
      var link = ev.target.closest("#check-panel a.hint-field");
      if (!link) return;
      var field = document.querySelector(link.getAttribute("href"));
      if (field) { ev.preventDefault(); field.focus(); field.scrollIntoView({block: "center"}); }
    });
  });
  // Once the form is being submitted, no more live checks: the server checks it anyway.
  var leaving = false;
  document.addEventListener("submit", function (ev) {
    if (ev.target && ev.target.id === "demand-form") leaving = true;
  });
  document.addEventListener("htmx:confirm", function (ev) {
    if (leaving && ev.detail.elt && ev.detail.elt.id === "check-panel") ev.preventDefault();
  });
  document.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.detail.target && ev.detail.target.id === "check-panel") markHintedFields();
  });
})();
