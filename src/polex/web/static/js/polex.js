// Progressive enhancement only: every page works without this file.
// htmx requests carry the page's CSRF token in a header (forms also carry it as a field).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});

// A swapped-in region announces itself to screen readers and takes the focus when asked.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (target && target.hasAttribute("data-focus-after-swap")) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
});
