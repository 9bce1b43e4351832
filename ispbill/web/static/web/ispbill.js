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
