// The dues grid: choosing another month to tick reloads the grid on it (the ticks show that month's state).
(function () {
  document.addEventListener("change", function (ev) {
    var select = ev.target.closest("[data-month-reload]");
    if (!select) return;
    var url = new URL(select.getAttribute("data-month-reload"), window.location.href);
    url.searchParams.set("month", select.value);
    window.location.assign(url.toString());
  });
})();
