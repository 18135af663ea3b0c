// The noticeboard screen: rotate through the branches' pages, keep the place when htmx swaps in new
// figures (jumping to a newly published quarter), and show a quiet note while the server is away.
// No inline scripts (CSP): the rotation interval comes from a data- attribute.
(function () {
  "use strict";

  var timer = null;
  var current = null;   // data-page of the page on screen
  var known = null;     // publication ids on screen before a swap

  function live() { return document.getElementById("board-live"); }

  function pages(root) { return Array.prototype.slice.call(root.querySelectorAll(".board-page")); }

  function seconds(root) {
    var s = parseInt(root.getAttribute("data-rotate-seconds"), 10);
    return s >= 3 ? s : 20;
  }

  function publications(root) {
    var ids = {};
    root.querySelectorAll(".board-slide[data-pub]").forEach(function (s) { ids[s.getAttribute("data-pub")] = true; });
    return ids;
  }

  function restartProgress(root, slide) {
    var bar = slide.querySelector(".board-progress-bar");
    if (!bar) return;
    bar.classList.remove("is-running");
    void bar.offsetWidth; // restart the CSS animation
    bar.style.animationDuration = seconds(root) + "s";
    bar.classList.add("is-running");
  }

  function show(root, page) {
    root.querySelectorAll(".board-slide.is-active, .board-page.is-active").forEach(function (n) {
      n.classList.remove("is-active");
    });
    var slide = page.closest(".board-slide");
    slide.classList.add("is-active");
    page.classList.add("is-active");
    current = page.getAttribute("data-page");
    if (pages(root).length > 1) restartProgress(root, slide);
  }

  function next() {
    var root = live();
    if (!root) return;
    var all = pages(root);
    if (all.length < 2) return;
    var i = all.findIndex(function (p) { return p.getAttribute("data-page") === current; });
    root.classList.remove("board-still");
    show(root, all[(i + 1) % all.length]);
  }

  function start(swapped) {
    var root = live();
    if (!root) return;
    var all = pages(root);
    var target = null;
    if (swapped) {
      // New figures arrived: no fade (no flicker); a newly published quarter is shown at once,
      // otherwise the screen stays on the page it was showing.
      root.classList.add("board-still");
      var fresh = Array.prototype.slice.call(root.querySelectorAll(".board-slide[data-pub]"))
        .filter(function (s) { return known && !known[s.getAttribute("data-pub")]; })[0];
      if (fresh) target = fresh.querySelector(".board-page");
      if (!target && current) target = root.querySelector('.board-page[data-page="' + current + '"]');
    }
    target = target || all[0];
    if (target) show(root, target);
    root.classList.toggle("board-single", all.length < 2);
    known = publications(root);
    window.clearInterval(timer);
    timer = window.setInterval(next, seconds(root) * 1000);
  }

  function setOnline(online) {
    var note = document.getElementById("board-status");
    if (note) note.classList.toggle("is-offline", !online);
  }

  document.addEventListener("DOMContentLoaded", function () { start(false); });
  document.addEventListener("htmx:afterSwap", function (ev) {
    if (ev.target && ev.target.id === "board-live") start(true);
  });
  // A poll that fails (server away, timeout, error status) swaps nothing: the last figures stay up.
  document.addEventListener("htmx:afterRequest", function (ev) {
    setOnline(!!(ev.detail && ev.detail.successful));
  });

  // Keep the TV from dimming where the browser allows it (secure contexts only).
  if (navigator.wakeLock && window.isSecureContext) {
    var lock = function () { navigator.wakeLock.request("screen").catch(function () {}); };
    lock();
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") lock(); });
  }
})();
