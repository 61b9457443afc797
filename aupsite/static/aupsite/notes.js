// Notes and tags (tracking/notes_pages.py). Their forms work without this script (a POST,
// then a redirect); with htmx they swap their own section instead, and this adds two
// things htmx does not do by itself:
// - a refused change is answered 400 with the section showing why (nothing was written):
//   htmx leaves error answers out by default, so these are swapped in like a success;
// - the swap removes the control that had the focus: the focus goes to what the answer
//   marks (data-focus-after-swap: "Notes saved.", the reason of a refusal, the tag
//   field), so that a keyboard or screen-reader user is told and can go on from there.
(function () {
  "use strict";

  var SECTIONS = ["notes", "tags"];

  function ours(target) {
    return target && SECTIONS.indexOf(target.id) !== -1;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && ours(event.detail.target)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!ours(target)) return;
    var focus = target.querySelector("[data-focus-after-swap]") || target.querySelector("h2");
    if (!focus) return;
    if (!focus.hasAttribute("tabindex") && !/^(INPUT|TEXTAREA|BUTTON|A)$/.test(focus.tagName)) {
      focus.setAttribute("tabindex", "-1");
    }
    focus.focus();
  });
})();
