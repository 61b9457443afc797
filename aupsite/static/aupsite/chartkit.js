/* aupsite chartkit: the helpers that charts.js (experiment and job pages) and
 * compare.js (the comparison pages) both draw with, in one place so that the pages'
 * numbers, axes and empty-chart notes read alike. Loaded before them (defer keeps the
 * order); it draws nothing itself and exposes window.aupsiteChartkit.
 */
(function () {
  "use strict";

  var rootStyle = getComputedStyle(document.documentElement);

  // Colours are CSS custom properties (app.css, light and dark), never typed here.
  function cssVar(name, fallback) {
    var value = rootStyle.getPropertyValue(name).trim();
    return value || fallback;
  }

  var FG = cssVar("--muted", "#666");
  var GRID = cssVar("--grid", "rgba(0,0,0,0.08)");

  // A value as the charts' tooltips, tables and summaries show it: five significant
  // digits, exponents for the very small and very large, "—" for none.
  function fmt(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(5));
  }

  // A uPlot axis in the page's colours; `extra` adds or overrides options.
  function axis(label, extra) {
    var a = {
      label: label, stroke: FG, labelSize: 18, size: 52,
      grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 },
      font: "11px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif"
    };
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  function widthOf(el) { return Math.max(el.clientWidth - 16, 200); }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function emptyNote(el, text) {
    clear(el);
    var p = document.createElement("p");
    p.className = "empty-chart";
    p.textContent = text;
    el.appendChild(p);
  }

  // Rewritten only when it says something new: a screen reader reading the description
  // is not interrupted by the same words again.
  function describe(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // A learning curve's points option: no dots along a line, but a curve of one point
  // (a job that reported a single step) is drawn as a dot in its colour, since a line
  // of one point draws nothing. uPlot asks points.filter on every draw, so a curve that
  // grows past one point becomes a plain line again without being rebuilt.
  function curvePoints(colour) {
    return {
      show: false, size: 7, fill: colour, stroke: colour,
      filter: function (u, seriesIdx, show) {
        if (show) return null;  // all are drawn anyway
        var ys = u.data[seriesIdx], only = null;
        for (var i = 0; i < ys.length; i++) {
          if (ys[i] === null || ys[i] === undefined) continue;
          if (only !== null) return null;  // a second point: a line
          only = i;
        }
        return only === null ? null : [only];
      }
    };
  }

  window.aupsiteChartkit = {
    cssVar: cssVar, FG: FG, GRID: GRID, fmt: fmt, axis: axis, widthOf: widthOf,
    clear: clear, emptyNote: emptyNote, describe: describe, curvePoints: curvePoints
  };
})();
