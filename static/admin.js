// The administration's small behaviours (no inline scripts: the CSP forbids them).
(function () {
  "use strict";

  // A button with data-print prints the page (the sheet of first-time passwords).
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("[data-print]")) window.print();
  });

  // Uploads show their progress; once the file is sent, the server checks every row.
  document.addEventListener("htmx:xhr:progress", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-upload-progress]");
    if (!form || !ev.detail.lengthComputable) return;
    var bar = form.querySelector("progress");
    var label = form.querySelector("[data-progress-text]");
    var pct = Math.round(ev.detail.loaded / ev.detail.total * 100);
    if (bar) bar.value = pct;
    if (label) label.textContent = pct < 100 ? label.dataset.uploading + " " + pct + "%" : label.dataset.checking;
  });
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var form = ev.target.closest && ev.target.closest("form[data-upload-progress]");
    if (!form) return;
    var bar = form.querySelector("progress");
    var label = form.querySelector("[data-progress-text]");
    if (bar) bar.value = 0;
    if (label) label.textContent = label.dataset.uploading;
  });
})();
