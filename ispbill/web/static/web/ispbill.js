// Small behaviours of the web UI: the phone menu and confirmations of money actions.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest("[data-menu-toggle]");
  if (toggle) {
    var open = document.body.classList.toggle("menu-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }
});
document.addEventListener("submit", function (event) {
  var form = event.target;
  var text = form.getAttribute("data-confirm");
  if (text && !window.confirm(text)) {
    event.preventDefault();
  }
});
// A form marked data-busy (starting a billing run) is sent once: its button shows that it
// is busy, and a second click does nothing (the server refuses a second run anyway).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var busy = form.getAttribute("data-busy");
  if (!busy || event.defaultPrevented) {
    return;
  }
  if (form.getAttribute("data-sent")) {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-sent", "1");
  form.setAttribute("aria-busy", "true");
  var button = form.querySelector("button[type=submit]");
  if (button) {
    button.textContent = busy;
    button.setAttribute("aria-disabled", "true");
  }
});

// Partner form: show the settings of the chosen mode only. Elements with data-modes (a
// fieldset, or one field) are hidden and their inputs disabled, so they are not posted;
// the server ignores another mode's settings anyway (web/forms/partners.py).
function applyModes(form) {
  var select = form.querySelector("select[name=mode]");
  if (!select) {
    return;
  }
  var mode = select.value;
  form.querySelectorAll("[data-modes]").forEach(function (el) {
    var on = el.getAttribute("data-modes").split(" ").indexOf(mode) >= 0;
    el.hidden = !on;
    el.querySelectorAll("input, select, textarea").forEach(function (control) {
      control.disabled = !on;
    });
  });
}
document.addEventListener("change", function (event) {
  if (event.target.matches("form[data-mode-form] select[name=mode]")) {
    applyModes(event.target.form);
  }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-mode-form]").forEach(applyModes);
});
