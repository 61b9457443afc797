// The importance panel follows the page's objective (issue 13): when another script
// changes it (the charts' objective chooser dispatches aupsite:objective on document,
// detail {key}), the panel is asked again for that key. The page's URL is the
// charts part's to change; only the panel's request carries the new key.
(function () {
  "use strict";
  document.addEventListener("aupsite:objective", function (event) {
    var panel = document.getElementById("importance");
    var key = event.detail && event.detail.key;
    if (!panel || !window.htmx || typeof key !== "string") return;
    var params = new URLSearchParams(window.location.search);
    params.set("objective", key);
    window.htmx.ajax("GET", window.location.pathname + "?" + params.toString(), {
      source: panel, target: panel, swap: "outerHTML"
    });
  });
})();
