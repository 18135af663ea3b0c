// qscore's small behaviours. No inline scripts anywhere (CSP), so pages opt in with data- attributes.
(function () {
  "use strict";
  // A button with data-confirm asks before it submits.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  }, true);
})();
