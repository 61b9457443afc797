/* aupsite live announcements: tells screen-reader users what changed on a live page
 * (a new best job, the experiment's or the job's end), never every poll.
 *
 * A polled fragment renders hidden facts, <span data-fact="best" data-value="42">New
 * best: job 42, score 0.93.</span>. The values seen on load are taken as known; after
 * each htmx swap every fact whose value differs from the last one seen is said, once,
 * in the page's live region (#announcer, role="status" in base.html). A poll that
 * changed nothing changes no value, so the region is left untouched: no repeat.
 */
(function () {
  "use strict";

  var seen = {};

  function facts() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-fact]"));
  }

  function learn() {
    facts().forEach(function (fact) { seen[fact.dataset.fact] = fact.dataset.value; });
  }

  function announce() {
    var news = [];
    facts().forEach(function (fact) {
      var name = fact.dataset.fact;
      if (seen[name] === fact.dataset.value) return;
      seen[name] = fact.dataset.value;
      news.push(fact.textContent.trim());
    });
    var region = document.getElementById("announcer");
    if (region && news.length) region.textContent = news.join(" ");
  }

  function start() {
    learn();
    document.body.addEventListener("htmx:afterSettle", announce);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
