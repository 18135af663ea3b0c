// Figures and volunteer posts: small behaviours opted into with data- attributes (no inline script: CSP).
(function () {
  "use strict";
  // A button with data-check-all="name" ticks every enabled checkbox of that name in its form.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-check-all]");
    if (!btn) return;
    var form = btn.closest("form");
    form.querySelectorAll("input[type=checkbox][name='" + btn.getAttribute("data-check-all") + "']").forEach(function (box) {
      if (!box.disabled) box.checked = true;
    });
  });
  // A button with data-print opens the browser's print dialog.
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("[data-print]")) window.print();
  });
})();
