/* aupsite compare (issue 13, item 5): picking jobs to compare in the experiment page's
 * jobs table, and the two comparison pages' charts, drawn with uPlot.
 *
 * Picking: the jobs table's "Compare" checkboxes belong (form="compare-jobs-form") to
 * the compare bar above the table, which htmx never swaps. The table itself is swapped
 * on every tick of the page's clock, by sorting and by paging, so the picks live here,
 * and in sessionStorage (per experiment, so that Back from the comparison finds them),
 * and are checked again after each swap, as charts.js does for its pins. Without this
 * script the form still works: the checked boxes of the page are sent as ?jobs=1&jobs=2.
 *
 * Charts: data from the page (json_script, parsed, never evaluated); each chart has a
 * table under it, a text summary, a legend in the page and a "Reset zoom" button. No
 * inline code or style anywhere (CSP): colours are CSS custom properties read here.
 */
(function () {
  "use strict";

  // Shared with charts.js (static/aupsite/chartkit.js, loaded first).
  var kit = window.aupsiteChartkit;
  var cssVar = kit.cssVar, fmt = kit.fmt, axis = kit.axis, widthOf = kit.widthOf;
  var clear = kit.clear, emptyNote = kit.emptyNote, describe = kit.describe;

  // The n-th compared object's colour: the same --series-n as its swatch (.swatch.cN)
  // in the page's tables and legend, so at most 6 objects get 6 distinct colours.
  function colour(n) { return cssVar("--series-" + n, "#888"); }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return "—";
    // Under 10 s (a quick test run): tenths or finer, so that the axis' ticks differ.
    if (s < 10) return +Math.max(s, 0).toPrecision(2) + "s";
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    if (m) return m + "m " + (sec < 10 ? "0" : "") + sec + "s";
    return sec + "s";
  }

  // A drawn chart with drag-to-zoom, a "Reset zoom" button (aria-disabled while there
  // is no zoom, so pressing it never drops the focus) and double-click to reset.
  function zoomable(u, buttonId) {
    var button = document.getElementById(buttonId);
    function set(on) { if (button) button.setAttribute("aria-disabled", String(!on)); }
    set(false);
    if (button) {
      button.onclick = function () {
        if (button.getAttribute("aria-disabled") === "true") return;
        u.setData(u.data, true);
        set(false);
      };
    }
    u.over.addEventListener("dblclick", function () { set(false); });
    return set;
  }

  function whenResized(el, chart) {
    if (!window.ResizeObserver) return;
    var last = el.clientWidth;
    new ResizeObserver(function () {
      if (el.clientWidth === last) return;
      last = el.clientWidth;
      var u = chart();
      if (u) u.setSize({ width: widthOf(el), height: u.height });
    }).observe(el);
  }

  /* ------------------------------------------------------ picking jobs in the table */

  function Picker(form) {
    var self = this;
    this.form = form;
    this.min = +form.dataset.min;
    this.max = +form.dataset.max;
    this.key = "aupsite:compare:" + form.dataset.experiment;
    this.picked = new Map();  // job id -> job number, in the order picked
    try {
      JSON.parse(sessionStorage.getItem(this.key) || "[]").forEach(function (p) { self.picked.set(+p[0], p[1]); });
    } catch (e) { /* storage refused or garbled: start empty */ }
    this.status = document.getElementById("compare-picked");
    this.problem = document.getElementById("compare-problem");
    this.button = document.getElementById("compare-go");
    document.addEventListener("change", function (e) {
      var box = e.target;
      if (!box.matches || !box.matches('#jobs input[name="jobs"]')) return;
      if (box.checked) self.picked.set(+box.value, box.dataset.number); else self.picked.delete(+box.value);
      self.problem.textContent = "";
      self.save();
      self.show();
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var n = self.picked.size;
      if (n < self.min || n > self.max) {
        self.problem.textContent = n > self.max
          ? "A comparison takes at most " + self.max + " jobs: " + n + " are picked. Uncheck " + (n - self.max) + "."
          : "Pick at least " + self.min + " jobs to compare (" + n + " picked).";
        return;
      }
      window.location.assign(form.action + "?jobs=" + Array.from(self.picked.keys()).join(","));
    });
    document.getElementById("compare-clear").addEventListener("click", function () {
      self.picked.clear();
      self.problem.textContent = "";
      self.save();
      self.show();
    });
    document.body.addEventListener("htmx:afterSettle", function () { self.show(); });
    // Shift+click on a learning curve picks its job (a plain click opens it, charts.js).
    // charts.js's chart (window.aupsiteChart) names the job under the pointer in
    // .focused; this listener runs first (capture on the chart's box) and, with Shift
    // only, keeps the click from reaching the chart. Without such a job it does nothing.
    var curves = document.getElementById("curves-chart");
    if (curves) {
      curves.addEventListener("click", function (e) {
        var chart = window.aupsiteChart;
        var job = e.shiftKey && chart && chart.focused;
        if (!job || job.id === undefined) return;
        e.stopPropagation();
        e.preventDefault();
        self.picked.set(+job.id, String(job.number));
        self.problem.textContent = "";
        self.save();
        self.show();
      }, true);
    }
    this.show();
  }

  Picker.prototype.save = function () {
    try { sessionStorage.setItem(this.key, JSON.stringify(Array.from(this.picked.entries()))); } catch (e) { /* private mode */ }
  };

  // The table's boxes as picked (after every swap), and the bar's words.
  Picker.prototype.show = function () {
    var self = this;
    document.querySelectorAll('#jobs input[name="jobs"]').forEach(function (box) {
      box.checked = self.picked.has(+box.value);
    });
    var names = Array.from(this.picked.values()).map(function (n) { return "Job " + n; });
    var text = names.length
      ? names.length + " picked: " + names.join(", ") + "."
      : "None picked: check 2 to " + this.max + " jobs in the table.";
    if (names.length > this.max) text += " At most " + this.max + " can be compared.";
    if (this.status.textContent !== text) this.status.textContent = text;
    this.button.textContent = names.length ? "Compare " + names.length + " jobs" : "Compare";
    document.getElementById("compare-clear").hidden = !names.length;
  };

  /* ------------------------------------------------------ the jobs comparison */

  function JobsChart(el, payload) {
    var self = this;
    this.el = el;
    this.payload = payload;
    this.index = 0;
    var select = document.getElementById("compare-series");
    select.addEventListener("change", function () { self.index = select.selectedIndex; self.draw(); });
    whenResized(el, function () { return self.u; });
    this.draw();
  }

  JobsChart.prototype.draw = function () {
    var self = this;
    var series = this.payload.series[this.index];
    var jobs = this.payload.jobs;
    if (this.u) { this.u.destroy(); this.u = null; }
    // Every compared job keeps its column (and colour) even without points, so that the
    // colours match the swatches: an empty curve is an empty table.
    var tables = jobs.map(function (j) { return series.curves[String(j.id)] || [[], []]; });
    var drawn = jobs.filter(function (j) { return series.curves[String(j.id)]; });
    var parts = drawn.map(function (j) {
      var c = series.curves[String(j.id)];
      return "job " + j.number + " over " + c[0].length + " points, last " + fmt(c[1][c[1].length - 1]) + " at step " + c[0][c[0].length - 1];
    });
    describe("compare-summary", drawn.length
      ? series.name + " of " + drawn.length + " of " + jobs.length + " compared jobs: " + parts.join("; ") + "."
      : "No compared job reported " + series.name + " at any step.");
    if (!drawn.length) { emptyNote(this.el, "No compared job reported " + series.name + " at any step."); return; }
    clear(this.el);
    var info = document.getElementById("compare-info");
    var setZoom;
    this.u = new uPlot({
      width: widthOf(this.el), height: 340,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
      focus: { alpha: 0.3 },
      scales: { x: { time: false } },
      axes: [axis("step"), axis(series.name, { size: 60 })],
      series: [{ label: "step" }].concat(jobs.map(function (j, i) {
        return { label: "Job " + j.number, stroke: colour(i), width: 2, points: kit.curvePoints(colour(i)), spanGaps: false };
      })),
      hooks: {
        setSelect: [function (u) { if (u.select.width > 0 && setZoom) setZoom(true); }],
        setCursor: [function (u) {
          var i = u.cursor.idx;
          if (i === null || i === undefined) { info.textContent = ""; return; }
          var values = jobs.map(function (j, k) { return "Job " + j.number + " " + fmt(u.data[k + 1][i]); });
          info.textContent = "step " + u.data[0][i] + " · " + values.join(" · ");
        }]
      }
    }, uPlot.join(tables), this.el);
    this.u.root.classList.add("compare-plot");
    this.u.over.addEventListener("mouseleave", function () { info.textContent = ""; });
    setZoom = zoomable(this.u, "compare-reset");
  };

  /* ------------------------------------------------------ the experiments comparison */

  // Best so far as a step line: the value holds until the next improvement.
  function bestChart(el, experiments, key, xLabel, resetId, summaryId, xFormat) {
    var tables = experiments.map(function (e) { return e[key]; });
    var drawn = experiments.filter(function (e) { return e[key][0].length; });
    describe(summaryId, drawn.length
      ? "Best score so far " + (key === "by_time" ? "by time since the start" : "by job number") + " of " +
        drawn.map(function (e) {
          var ys = e[key][1], xs = e[key][0];
          return e.name + " (" + (e.maximize ? "max" : "min") + "): " + fmt(ys[ys.length - 1]) + " by " + xFormat(xs[xs.length - 1]);
        }).join("; ") + "."
      : "No experiment has a finite score yet.");
    if (!drawn.length) { emptyNote(el, "No experiment has a finite score yet."); return null; }
    clear(el);
    var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    var setZoom;
    var u = new uPlot({
      width: widthOf(el), height: 300,
      legend: { show: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false } },
      axes: [axis(xLabel, { values: function (u, vals) { return vals.map(xFormat); } }), axis("best score", { size: 60 })],
      series: [{ label: xLabel }].concat(experiments.map(function (e, i) {
        // spanGaps: the points of one experiment are joined across the others' x values.
        return { label: e.name, stroke: colour(i), width: 2, paths: stepped, spanGaps: true, points: { show: true, size: 5 } };
      })),
      hooks: { setSelect: [function (u) { if (u.select.width > 0 && setZoom) setZoom(true); }] }
    }, uPlot.join(tables), el);
    setZoom = zoomable(u, resetId);
    whenResized(el, function () { return u; });
    return u;
  }

  /* ------------------------------------------------------ start */

  function start() {
    var form = document.getElementById("compare-jobs-form");
    if (form) window.aupsiteCompare = new Picker(form);
    var data = document.getElementById("compare-data");
    if (!data || !window.uPlot) return;
    var payload = JSON.parse(data.textContent);
    var jobsEl = document.getElementById("compare-chart");
    if (jobsEl) window.aupsiteCompareChart = new JobsChart(jobsEl, payload);
    var indexEl = document.getElementById("compare-index-chart");
    if (indexEl) {
      var whole = function (v) { return v === null || v === undefined ? "—" : String(Math.round(v)); };
      window.aupsiteCompareCharts = [
        bestChart(indexEl, payload.experiments, "by_index", "job", "compare-index-reset", "compare-index-summary", whole),
        bestChart(document.getElementById("compare-time-chart"), payload.experiments, "by_time", "time since start",
          "compare-time-reset", "compare-time-summary", fmtSeconds)
      ];
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
