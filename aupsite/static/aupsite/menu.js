// The user menu is a <details>: it opens and closes with Enter or Space on its summary
// without this script. This adds what a menu is expected to do besides: Escape closes
// it and gives the focus back to its summary, and a click or focus elsewhere closes it.
(function () {
  "use strict";

  function menus() { return document.querySelectorAll("details.usermenu[open]"); }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus().forEach(function (menu) {
      if (!menu.contains(document.activeElement) && document.activeElement !== document.body) return;
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });

  function closeOutside(event) {
    menus().forEach(function (menu) { if (!menu.contains(event.target)) menu.open = false; });
  }
  document.addEventListener("click", closeOutside);
  document.addEventListener("focusin", closeOutside);
})();
