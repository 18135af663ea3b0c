// qscore's small behaviours. No inline scripts anywhere (CSP), so pages opt in with data- attributes.
(function () {
  "use strict";

  // A button with data-confirm asks before it acts.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  }, true);

  // Meeting form: mark every member without a choice as attended.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-mark-all]");
    if (!btn) return;
    var value = btn.getAttribute("data-mark-all");
    var form = btn.closest("form");
    var groups = {};
    form.querySelectorAll("input[type=radio][name^='status-']").forEach(function (r) {
      groups[r.name] = groups[r.name] || r.form.querySelector("input[name='" + r.name + "']:checked") !== null;
    });
    form.querySelectorAll("input[type=radio][value='" + value + "'][name^='status-']").forEach(function (r) {
      if (!groups[r.name]) r.checked = true;
    });
  });

  // A chip's remove button.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-remove-closest]");
    if (btn) btn.closest(btn.getAttribute("data-remove-closest")).remove();
  });

  // Esc in an inline form restores the row (the form names its cancel URL).
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape" || !window.htmx) return;
    var form = ev.target.closest && ev.target.closest("form[data-cancel-url]");
    if (!form) return;
    ev.preventDefault();
    htmx.ajax("GET", form.getAttribute("data-cancel-url"), { target: form.closest("tr"), swap: "outerHTML" });
  });

  // After a row comes back from an edit, focus returns to its "add" button for the keyboard.
  document.addEventListener("htmx:afterSettle", function () {
    var row = document.querySelector("[data-refocus]");
    if (!row) return;
    row.removeAttribute("data-refocus");
    var btn = row.querySelector(".row-add");
    if (btn) btn.focus({ preventScroll: true });
  });
})();
