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

  // A swapped-in form's first field takes the focus once htmx has settled it, so its own htmx
  // triggers (the indicator select re-renders the form) are bound before anyone can use it.
  document.addEventListener("htmx:afterSettle", function () {
    var field = document.querySelector("[data-autofocus]");
    if (!field) return;
    field.removeAttribute("data-autofocus");
    field.focus({ preventScroll: true });
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

// htmx does not swap 4xx/5xx other than 422: show the server's message (our error fragment) instead.
(function () {
  "use strict";
  document.addEventListener("htmx:responseError", function (ev) {
    var xhr = ev.detail.xhr;
    if (!xhr || xhr.status === 401) return; // 401 carries HX-Redirect to the login page
    var region = document.getElementById("toast");
    if (!region) {
      region = document.createElement("div");
      region.id = "toast";
      region.className = "toast";
      region.setAttribute("role", "alert");
      document.body.appendChild(region);
    }
    region.innerHTML = xhr.responseText || "";
    region.hidden = false;
    clearTimeout(region._timer);
    region._timer = setTimeout(function () { region.hidden = true; }, 8000);
  });
  document.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("toast");
    if (!region) {
      region = document.createElement("div");
      region.id = "toast";
      region.className = "toast";
      region.setAttribute("role", "alert");
      document.body.appendChild(region);
    }
    region.textContent = document.documentElement.lang === "en" ? "The server cannot be reached. Try again in a moment." : "无法连接服务器，请稍后重试。";
    region.hidden = false;
  });
})();
