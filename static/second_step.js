// The second step's pages: a data-print button prints the recovery codes (no inline scripts: CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("[data-print]")) window.print();
  });
})();
