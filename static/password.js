// Password fields: the show-password toggle (templates/_password.html). The strength meter is htmx (qscore/passwords.py).
(function () {
  "use strict";

  // The toggles are in the page but hidden: without this script they would do nothing.
  function reveal(root) {
    root.querySelectorAll("[data-password-toggle][hidden]").forEach(function (btn) { btn.hidden = false; });
  }

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:load", function (ev) { reveal(ev.detail.elt.parentNode || document); });

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-password-toggle]");
    if (!btn) return;
    var input = document.getElementById(btn.getAttribute("aria-controls"));
    if (!input) return;
    var show = btn.getAttribute("aria-pressed") !== "true";
    input.type = show ? "text" : "password";
    btn.setAttribute("aria-pressed", show ? "true" : "false");
  });

  // A shown password is hidden again when its form is sent, so the browser saves it as a password.
  document.addEventListener("submit", function (ev) {
    ev.target.querySelectorAll("[data-password-toggle][aria-pressed='true']").forEach(function (btn) {
      var input = document.getElementById(btn.getAttribute("aria-controls"));
      if (input) input.type = "password";
      btn.setAttribute("aria-pressed", "false");
    });
  });
})();
