// "Copy" buttons: a button with data-copy="<element id>" puts that element's text on
// the clipboard and says so in its own label for a moment (its live region). Without
// this script (or a clipboard) the text is there to select by hand.
(function () {
  "use strict";
  const SAID_FOR_MS = 2000;

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    navigator.clipboard.writeText(source.textContent.trim()).then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Select and copy it by hand"; },
    ).finally(() => {
      setTimeout(() => { button.textContent = label; }, SAID_FOR_MS);
    });
  });

  // The buttons only appear where the clipboard can be written.
  if (navigator.clipboard) {
    for (const button of document.querySelectorAll("button[data-copy]")) button.hidden = false;
  }
})();
