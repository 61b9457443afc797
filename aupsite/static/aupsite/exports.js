// The jobs table's "Export CSV" and "Export JSON" links carry the table's query (status,
// sort) and the brush's b.* keys, so that an export holds the jobs the table shows. The
// server writes them with the table (tracking/templatetags/exports.py); this keeps their
// b.* keys right when the brush changes (aupsite:filter, whose detail.query is the
// brush's query string) before the table is rendered again, or if it is not.
(function () {
  "use strict";

  function brushed(key) { return key.indexOf("b.") === 0; }

  document.addEventListener("aupsite:filter", function (event) {
    var brush = new URLSearchParams((event.detail && event.detail.query) || "");
    document.querySelectorAll("a[data-export]").forEach(function (link) {
      var url = new URL(link.getAttribute("href"), window.location.href);
      var old = [];
      url.searchParams.forEach(function (value, key) { if (brushed(key)) old.push(key); });
      old.forEach(function (key) { url.searchParams.delete(key); });
      brush.forEach(function (value, key) { if (brushed(key)) url.searchParams.append(key, value); });
      link.setAttribute("href", url.pathname + url.search);
    });
  });
})();
