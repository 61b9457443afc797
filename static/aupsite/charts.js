/* aupsite charts: draws the experiment and job pages' charts with uPlot.
 *
 * Data comes from the page (json_script, parsed, never evaluated) and, while the
 * experiment runs, from charts.json?since=<cursor>: only the curves that changed are
 * sent again (downsampled on the server), and they replace their old version on the
 * existing chart, keeping the user's zoom and pinned jobs. No inline code anywhere (CSP).
 *
 * One clock per page, and it is not here: the page's summary polls with htmx at the
 * interval the server renders (hx-trigger="every Ns"), the jobs table refreshes on each
 * of its answers, and so do the charts (the chart root's data-clock names the summary).
 * The server answers the summary's poll with 286 once the experiment (the job) has
 * ended: htmx stops the clock, and that last answer is the last tick, so the charts and
 * the table fetch once more and show the end. One stop rule, one timer, no interval
 * typed in JavaScript.
 *
 * Every chart has its equivalents for those who do not use a mouse or do not see it:
 * a table under it, a text summary (what it shows, how many jobs, the best) that its
 * element names with aria-describedby and that is rewritten whenever its data changes,
 * and buttons for what a pointer does on it (reset the zoom, choose the series, pin
 * a job: the jobs table's checkboxes).
 */
(function () {
  "use strict";

  var rootStyle = getComputedStyle(document.documentElement);

  var CURVES_DRAWN = "aupsite:curves-drawn";

  function cssVar(name, fallback) {
    var value = rootStyle.getPropertyValue(name).trim();
    return value || fallback;
  }

  var PALETTE = [];
  for (var i = 0; i < 12; i++) PALETTE.push(cssVar("--series-" + i, "#888"));
  var FG = cssVar("--muted", "#666");
  var GRID = cssVar("--grid", "rgba(0,0,0,0.08)");
  var ACCENT = cssVar("--accent", "#2f6feb");

  function colorFor(id) { return PALETTE[id % PALETTE.length]; }

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(5));
  }

  function axis(label, extra) {
    var a = {
      label: label, stroke: FG, labelSize: 18, size: 52,
      grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 },
      font: "11px system-ui, sans-serif", labelFont: "12px system-ui, sans-serif"
    };
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  // Steps and job ids are whole numbers: never tick between them.
  var WHOLE = { incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000, 1e6] };

  function widthOf(el) { return Math.max(el.clientWidth - 16, 200); }

  function whenResized(el, charts) {
    if (!window.ResizeObserver) return;
    var last = el.clientWidth;
    new ResizeObserver(function () {
      if (el.clientWidth === last) return;
      last = el.clientWidth;
      charts().forEach(function (u) { if (u) u.setSize({ width: widthOf(u.root.parentNode), height: u.height }); });
    }).observe(el);
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  // Rewritten only when it says something new: a screen reader reading the description
  // is not interrupted by the same words again.
  function describe(id, text) {
    var el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // The keyboard's way to undo a drag-zoom (a double-click for the mouse): a button,
  // aria-disabled rather than disabled while there is no zoom, so that pressing it
  // never drops the keyboard focus. reset() restores the full view.
  function ZoomReset(id, reset) {
    var self = this;
    this.button = document.getElementById(id);
    this.on = false;
    if (!this.button) return;
    this.button.addEventListener("click", function () {
      if (!self.on) return;
      reset();
      self.set(false);
    });
  }

  ZoomReset.prototype.set = function (on) {
    this.on = on;
    if (this.button) this.button.setAttribute("aria-disabled", String(!on));
  };

  function emptyNote(el, text) {
    clear(el);
    var p = document.createElement("p");
    p.className = "empty-chart";
    p.textContent = text;
    el.appendChild(p);
  }

  function table(container, head, rows, limit) {
    clear(container);
    var t = document.createElement("table");
    t.className = "data compact";
    var thead = t.createTHead().insertRow();
    head.forEach(function (h) { var th = document.createElement("th"); th.scope = "col"; th.textContent = h; thead.appendChild(th); });
    var body = t.createTBody();
    rows.slice(0, limit || rows.length).forEach(function (r) {
      var tr = body.insertRow();
      r.forEach(function (c) { var td = tr.insertCell(); td.textContent = c; });
    });
    container.appendChild(t);
    if (limit && rows.length > limit) {
      var p = document.createElement("p");
      p.className = "muted small";
      p.textContent = "First " + limit + " of " + rows.length + " rows.";
      container.appendChild(p);
    }
  }

  // Calls tick() on each answer to the clock element's htmx poll, never two at a time:
  // a tick that comes while the previous one runs is kept for when it ends, so the last
  // tick (the answer that stopped the clock) is never lost.
  function onTick(clockId, tick) {
    if (!clockId) return;
    var running = false, pending = false;
    function run() {
      running = true;
      pending = false;
      tick().then(done, done);
    }
    function done() {
      running = false;
      if (pending) run();
    }
    document.body.addEventListener("htmx:afterRequest", function (e) {
      if (!e.detail.elt || e.detail.elt.id !== clockId) return;
      if (running) pending = true; else run();
    });
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }

  function logSafe(data, on) {
    if (!on) return data;
    return data.map(function (col, i) {
      if (i === 0) return col;
      return col.map(function (v) { return (v === null || v === undefined || v > 0) ? v : null; });
    });
  }

  /* ---------------------------------------------------------------- experiment page */

  function Experiment(root, payload) {
    var self = this;
    this.root = root;
    this.url = root.dataset.url;
    this.jobUrl = root.dataset.jobUrl;
    this.series = payload.series.value;
    this.limits = payload.limits;  // the server's: the selection sent, the tables' rows
    this.showAll = payload.show_all;
    this.logY = false;
    this.selected = new Set();
    this.curves = new Map();   // job id -> [xs, ys]
    this.jobs = [];            // drawn jobs, in order, from the last payload
    this.zoomed = false;
    this.u = null;
    this.history = null;
    this.paramCharts = [];
    this.generation = 0;       // bumps on a control change: late answers are dropped
    this.curvesZoom = new ZoomReset("curves-reset", function () { if (self.u) self.u.setData(self.u.data, true); self.setZoomed(false); });
    this.historyZoom = new ZoomReset("history-reset", function () { if (self.history) self.history.setData(self.history.data, true); });
    this.apply(payload, true);
    this.bind();
    // A failed update is retried on the next tick.
    onTick(root.dataset.clock, function () { return self.fetch(true).catch(function () {}); });
  }

  Experiment.prototype.jobLink = function (id) { return this.jobUrl.replace(/\/0\/$/, "/" + id + "/"); };

  Experiment.prototype.setZoomed = function (on) {
    this.zoomed = on;
    this.curvesZoom.set(on);
  };

  Experiment.prototype.apply = function (payload, full) {
    var self = this;
    this.cursor = payload.cursor;
    this.ended = payload.ended;
    this.maximize = payload.maximize;
    this.seriesName = payload.series.name;
    this.totalJobs = payload.curves.total_jobs;
    if (full) this.curves.clear();
    var keep = new Set(payload.curves.jobs.map(function (j) { return j.id; }));
    Array.from(this.curves.keys()).forEach(function (id) { if (!keep.has(id)) self.curves.delete(id); });
    Object.keys(payload.curves.data).forEach(function (id) { self.curves.set(+id, payload.curves.data[id]); });
    var before = this.jobs.map(function (j) { return j.id; }).join(",");
    this.jobs = payload.curves.jobs.filter(function (j) { return self.curves.has(j.id); });
    this.jobs.forEach(function (j) { if (j.selected) self.selected.add(j.id); });
    var after = this.jobs.map(function (j) { return j.id; }).join(",");
    document.getElementById("curves-note").textContent = payload.curves.note || "";
    this.drawCurves(full || before !== after);
    if (payload.history) {
      this.historyVersion = payload.history_version;
      this.drawHistory(payload.history);
      this.drawParams(payload.history.params);
    }
    this.markTable();
    this.describeCurves();
  };

  // "Learning curves (score) of 10 of 24 jobs, 2 running; best job 7, score 0.93 at step 40."
  Experiment.prototype.describeCurves = function () {
    var self = this;
    if (!this.jobs.length) {
      describe("curves-summary", this.ended ? "No job reported an intermediate result." : "No learning curve yet.");
      return;
    }
    var running = this.jobs.filter(function (j) { return j.status === "RUNNING"; }).length;
    var pinned = this.jobs.filter(function (j) { return self.selected.has(j.id); }).length;
    var text = "Learning curves (" + this.seriesName + ") of " + this.jobs.length + " of " + plural(this.totalJobs, "job");
    if (running) text += ", " + running + " running";
    if (pinned) text += ", " + pinned + " pinned";
    // Drawn jobs come best first (the server's order); the best has a finite score.
    var best = this.jobs[0].score !== null ? this.jobs[0] : null;
    if (best) {
      var c = this.curves.get(best.id);
      var last = c && c[0].length ? c[0].length - 1 : -1;
      text += "; best job " + best.number + ", score " + fmt(best.score);
      if (last >= 0) {
        text += this.series === "score" ? " at step " + c[0][last]
          : "; its last " + this.seriesName + " " + fmt(c[1][last]) + " at step " + c[0][last];
      }
    } else {
      text += "; no job has a finite score yet";
    }
    describe("curves-summary", text + ".");
  };

  Experiment.prototype.curveData = function () {
    var self = this;
    var tables = this.jobs.map(function (j) { return self.curves.get(j.id); });
    if (!tables.length) return null;
    return logSafe(uPlot.join(tables), this.logY);
  };

  Experiment.prototype.drawCurves = function (rebuild) {
    var self = this;
    var data = this.curveData();
    var el = this.root;
    if (!data) {
      if (this.u) { this.u.destroy(); this.u = null; }
      this.setZoomed(false);
      emptyNote(el, this.ended ? "No job reported an intermediate result." : "Waiting for the first intermediate results…");
      this.curvesTable();
      return;
    }
    if (this.u && !rebuild) {
      // Same curves, new points: keep the user's zoom (no rescale while zoomed).
      this.u.setData(data, !this.zoomed);
      this.curvesTable();
      return;
    }
    var wasZoomed = this.zoomed;
    var keepX = this.u && wasZoomed ? this.u.scales.x : null;
    var keepY = this.u && wasZoomed ? this.u.scales.y : null;
    if (this.u) this.u.destroy();
    clear(el);
    var best = this.jobs.length ? this.jobs[0].id : null;
    var series = [{ label: "step" }].concat(this.jobs.map(function (j) {
      return {
        label: "Job " + j.number, stroke: colorFor(j.id),
        width: (j.id === best || self.selected.has(j.id)) ? 2.2 : 1.3,
        points: { show: false }, spanGaps: false
      };
    }));
    var opts = {
      width: widthOf(el), height: 340,
      legend: { show: false },
      focus: { alpha: 0.25 },
      cursor: { focus: { prox: 24 }, drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { distr: this.logY ? 3 : 1 } },
      axes: [axis("step", WHOLE), axis(this.seriesName, { size: 60 })],
      series: series,
      hooks: {
        setSeries: [function (u, idx) { self.focusRow(idx === null ? null : self.jobs[idx - 1]); }],
        setCursor: [function (u) { self.showCursor(u); }],
        setSelect: [function (u) { if (u.select.width > 0) self.setZoomed(true); }],
        // The moment the curves are first on screen, for the browser benchmark
        // (bench/browser.py) and the end-to-end tests: a Performance API mark.
        draw: [function () {
          if (!performance.getEntriesByName(CURVES_DRAWN).length) performance.mark(CURVES_DRAWN);
        }]
      }
    };
    this.u = new uPlot(opts, data, el);
    this.u.over.addEventListener("dblclick", function () { self.setZoomed(false); });
    this.u.over.addEventListener("click", function () {
      var j = self.focused;
      if (j && !self.u.select.width) window.location.href = self.jobLink(j.id);
    });
    if (keepX && keepX.min !== null) {
      this.u.setScale("x", { min: keepX.min, max: keepX.max });
      if (keepY && keepY.min !== null) this.u.setScale("y", { min: keepY.min, max: keepY.max });
      this.setZoomed(true);
    } else {
      this.setZoomed(false);
    }
    this.colorSwatches();
    this.curvesTable();
  };

  Experiment.prototype.showCursor = function (u) {
    var info = document.getElementById("curves-info");
    var j = this.focused;
    var idx = u.cursor.idx;
    if (!j || idx === null || idx === undefined) return;
    var sIdx = this.jobs.indexOf(j) + 1;
    var y = u.data[sIdx] ? u.data[sIdx][idx] : null;
    info.textContent = "Job " + j.number + " · step " + u.data[0][idx] + " · " + this.seriesName + " " + fmt(y) +
      " · final score " + (j.score !== null ? fmt(j.score) : (j.score_text || "—")) + " · click to open";
  };

  Experiment.prototype.focusRow = function (job) {
    this.focused = job;
    document.querySelectorAll("#jobs tr.hl").forEach(function (tr) { tr.classList.remove("hl"); });
    if (job) {
      var tr = document.querySelector('#jobs tr[data-job="' + job.id + '"]');
      if (tr) tr.classList.add("hl");
    }
  };

  Experiment.prototype.focusCurve = function (id) {
    if (!this.u) return;
    var idx = -1;
    for (var i = 0; i < this.jobs.length; i++) if (this.jobs[i].id === id) idx = i + 1;
    this.u.setSeries(idx > 0 ? idx : null, { focus: true });
    if (idx <= 0) this.focused = null;
  };

  Experiment.prototype.colorSwatches = function () {
    // Classes, not styles: htmx copies attributes of swapped elements, and a copied
    // style attribute is an inline style the CSP refuses.
    var drawn = new Set(this.jobs.map(function (j) { return j.id; }));
    document.querySelectorAll("#jobs .swatch[data-job]").forEach(function (s) {
      var id = +s.dataset.job;
      for (var c = 0; c < PALETTE.length; c++) s.classList.toggle("c" + c, drawn.has(id) && id % PALETTE.length === c);
      s.classList.toggle("drawn", drawn.has(id));
    });
  };

  Experiment.prototype.markTable = function () {
    var self = this;
    document.querySelectorAll('#jobs input[name="plot"]').forEach(function (box) {
      box.checked = self.selected.has(+box.value);
    });
    this.colorSwatches();
  };

  Experiment.prototype.curvesTable = function () {
    var self = this;
    var rows = this.jobs.map(function (j) {
      var c = self.curves.get(j.id) || [[], []];
      var n = c[0].length;
      return ["Job " + j.number, j.status || "no status", j.score !== null ? fmt(j.score) : (j.score_text || "—"),
        n, n ? c[0][n - 1] : "—", n ? fmt(c[1][n - 1]) : "—"];
    });
    table(document.getElementById("curves-table"),
      ["Job", "Status", "Final score", "Points drawn", "Last step", "Last " + this.seriesName], rows);
  };

  Experiment.prototype.drawHistory = function (h) {
    var self = this;
    var el = document.getElementById("history-chart");
    document.getElementById("history-note").textContent = h.note || "";
    // x is the job's number within the experiment; h.jids[i] is the id that opens it.
    var numbers = h.points[0];
    if (this.history) { this.history.destroy(); this.history = null; }
    this.historyZoom.set(false);
    if (!numbers.length) {
      emptyNote(el, "No job has a finite score yet.");
      describe("history-summary", "Optimization history of " + plural(this.totalJobs, "job") + ": no job has a finite score yet.");
      table(document.getElementById("history-table"), ["Job", "Score", "Best so far"], []);
      return;
    }
    var n = h.best[0].length;
    describe("history-summary", "Optimization history: the final score of " + plural(numbers.length, "job") + " of " + this.totalJobs +
      " in order, and the best so far; best job " + h.best[0][n - 1] + ", score " + fmt(h.best[1][n - 1]) + ".");
    clear(el);
    var data = uPlot.join([h.points, h.best]);
    this.history = new uPlot({
      width: widthOf(el), height: 260,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 8 } },
      scales: { x: { time: false } },
      axes: [axis("job", WHOLE), axis("score", { size: 60 })],
      series: [
        { label: "job" },
        { label: "score", stroke: PALETTE[0], fill: PALETTE[0], paths: function () { return null; }, points: { show: true, size: 6, stroke: PALETTE[0], fill: PALETTE[0] + "99" } },
        { label: "best so far", stroke: PALETTE[2], width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }
      ],
      hooks: { setSelect: [function (u) { if (u.select.width > 0) self.historyZoom.set(true); }], setCursor: [function (u) {
        var i = u.cursor.idx;
        if (i === null || i === undefined) return;
        document.getElementById("history-info").textContent = "Job " + u.data[0][i] + " · score " + fmt(u.data[1][i]) + " · click to open";
      }] }
    }, data, el);
    this.history.over.addEventListener("dblclick", function () { self.historyZoom.set(false); });
    this.history.over.addEventListener("click", function () {
      var i = self.history.cursor.idx;
      if (i !== null && i !== undefined && self.history.data[1][i] !== undefined && !self.history.select.width) {
        window.location.href = self.jobLink(h.jids[i]);
      }
    });
    var best = new Map();
    for (var k = 0; k < h.best[0].length; k++) best.set(h.best[0][k], h.best[1][k]);
    var running = null;
    var rows = numbers.map(function (number, n) {
      if (best.has(number)) running = best.get(number);
      return ["Job " + number, fmt(h.points[1][n]), fmt(running)];
    });
    table(document.getElementById("history-table"), ["Job", "Score", "Best so far"], rows, this.limits.table_rows);
  };

  Experiment.prototype.drawParams = function (p) {
    var self = this;
    var el = document.getElementById("params-charts");
    this.paramCharts.forEach(function (u) { u.destroy(); });
    this.paramCharts = [];
    clear(el);
    var axes = p.axes.filter(function (a) { return p.series[a.name] && p.series[a.name][0].length; });
    if (!axes.length) {
      emptyNote(el, "No finished job with parameters and a finite score yet.");
      describe("params-summary", "Hyperparameters vs score: no finished job with parameters and a finite score yet.");
      table(document.getElementById("params-table"), ["Job"], []);
      return;
    }
    axes.forEach(function (a) {
      var s = p.series[a.name];
      var fig = document.createElement("figure");
      var cap = document.createElement("figcaption");
      cap.textContent = a.name;
      fig.appendChild(cap);
      el.appendChild(fig);
      var xs = s[0];
      var positive = a.kind === "number" && xs.length > 1 && xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 100;
      var xScale = { time: false };
      var xAxis = axis(null, { size: 36 });
      if (a.kind === "category") {
        xScale.range = [-0.5, a.categories.length - 0.5];
        xAxis.splits = function () { return a.categories.map(function (_, i) { return i; }); };
        xAxis.values = function (u, splits) { return splits.map(function (v) { return a.categories[v]; }); };
      } else if (positive) {
        xScale.distr = 3;  // spans 2+ decades (a learning rate): log scale
        // Grid and label the decades only; uPlot's own log splits are dense.
        xAxis.splits = function (u, axisIdx, min, max) {
          var out = [];
          for (var e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
            var v = Math.pow(10, e);
            if (v >= min && v <= max) out.push(v);
          }
          return out;
        };
        xAxis.values = function (u, splits) { return splits.map(fmt); };
      }
      var u = new uPlot({
        width: Math.max(fig.clientWidth, 220), height: 190,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 8 } },
        scales: { x: xScale },
        axes: [xAxis, axis(null, { size: 50 })],
        series: [{}, { stroke: PALETTE[0], fill: PALETTE[0], paths: function () { return null; }, points: { show: true, size: 6, stroke: PALETTE[0], fill: PALETTE[0] + "99" } }],
        hooks: { setCursor: [function (u) {
          var i = u.cursor.idx;
          if (i === null || i === undefined) return;
          var x = a.kind === "category" ? a.categories[s[0][i]] : fmt(s[0][i]);
          document.getElementById("params-info").textContent = "Job " + s[3][i] + " · " + a.name + " = " + x + " · score " + fmt(s[1][i]) + " · click to open";
        }] }
      }, [s[0], s[1]], fig);
      u.over.addEventListener("click", function () {
        var i = u.cursor.idx;
        if (i !== null && i !== undefined) window.location.href = self.jobLink(s[2][i]);
      });
      self.paramCharts.push(u);
    });
    // Table: one row per job, one column per parameter.
    var byJob = new Map();
    axes.forEach(function (a, col) {
      var s = p.series[a.name];
      for (var i = 0; i < s[2].length; i++) {
        var row = byJob.get(s[2][i]) || { number: s[3][i], score: s[1][i], values: [] };
        row.values[col] = a.kind === "category" ? a.categories[s[0][i]] : fmt(s[0][i]);
        byJob.set(s[2][i], row);
      }
    });
    var rows = Array.from(byJob.entries()).sort(function (x, y) { return self.maximize ? y[1].score - x[1].score : x[1].score - y[1].score; })
      .map(function (e) { return ["Job " + e[1].number].concat(axes.map(function (_, c) { return e[1].values[c] === undefined ? "—" : e[1].values[c]; })).concat([fmt(e[1].score)]); });
    table(document.getElementById("params-table"), ["Job"].concat(axes.map(function (a) { return a.name; })).concat(["Score"]), rows, this.limits.table_rows);
    var best = rows[0];
    describe("params-summary", "Hyperparameters vs score: one scatter for each of " + axes.map(function (a) { return a.name; }).join(", ") +
      ", over " + plural(rows.length, "job") + "; best " + best[0].toLowerCase() + ", score " + best[best.length - 1] +
      ", with " + axes.map(function (a, c) { return a.name + " " + best[c + 1]; }).join(", ") + ".");
  };

  Experiment.prototype.query = function (incremental) {
    var q = new URLSearchParams();
    q.set("series", this.series);
    if (this.showAll) q.set("all", "1");
    if (this.selected.size) q.set("select", Array.from(this.selected).slice(-this.limits.selected).join(","));
    // -- parallel coordinates (issue 13): the charts draw the jobs inside the page's brush.
    new URLSearchParams(window.location.search).forEach(function (value, key) { if (key.indexOf("b.") === 0) q.set(key, value); });
    // -- end parallel coordinates
    if (incremental) {
      q.set("since", this.cursor);
      q.set("have", this.jobs.map(function (j) { return j.id; }).join(","));
      if (this.historyVersion) q.set("history", this.historyVersion);
    }
    return this.url + "?" + q.toString();
  };

  Experiment.prototype.fetch = function (incremental) {
    var self = this;
    var generation = this.generation;
    return getJSON(this.query(incremental)).then(function (payload) {
      if (generation !== self.generation) return;  // the user changed the view meanwhile
      self.apply(payload, !incremental);
    });
  };

  // A control changed (series, show all, a pin): the whole view again, now; the
  // clock's next tick goes on from the cursor this answer brings.
  Experiment.prototype.reload = function () {
    this.generation++;
    this.fetch(false).catch(function () {});
  };

  Experiment.prototype.bind = function () {
    var self = this;
    // -- parallel coordinates (issue 13): a new brush, the whole view again.
    document.addEventListener("aupsite:filter", function () { self.reload(); });
    // -- end parallel coordinates
    var seriesSelect = document.getElementById("curves-series");
    seriesSelect.value = this.series;
    seriesSelect.addEventListener("change", function () { self.series = seriesSelect.value; self.setZoomed(false); self.reload(); });
    var logBox = document.getElementById("curves-logy");
    logBox.addEventListener("change", function () { self.logY = logBox.checked; self.drawCurves(true); });
    var allButton = document.getElementById("curves-all");
    allButton.addEventListener("click", function () {
      self.showAll = !self.showAll;
      // A toggle button keeps its name; its pressed state says which view is on.
      allButton.setAttribute("aria-pressed", String(self.showAll));
      self.reload();
    });
    // The jobs table is swapped by htmx (sorting, paging, polling): listen on the document.
    document.addEventListener("change", function (e) {
      var box = e.target;
      if (!box.matches || !box.matches('#jobs input[name="plot"]')) return;
      var id = +box.value;
      if (box.checked) self.selected.add(id); else self.selected.delete(id);
      // The server draws at most limits.selected pins: past it the oldest pin goes, so
      // that a checked box always means a drawn curve.
      while (self.selected.size > self.limits.selected) self.selected.delete(self.selected.values().next().value);
      self.markTable();
      self.reload();
    });
    document.addEventListener("mouseover", function (e) {
      var tr = e.target.closest && e.target.closest("#jobs tbody tr[data-job]");
      if (tr) self.focusCurve(+tr.dataset.job);
    });
    document.addEventListener("mouseout", function (e) {
      var tr = e.target.closest && e.target.closest("#jobs tbody tr[data-job]");
      if (tr && !(e.relatedTarget && tr.contains(e.relatedTarget))) self.focusCurve(null);
    });
    document.addEventListener("focusin", function (e) {
      var tr = e.target.closest && e.target.closest("#jobs tbody tr[data-job]");
      if (tr) self.focusCurve(+tr.dataset.job);
    });
    document.body.addEventListener("htmx:afterSettle", function () { self.markTable(); });
    whenResized(this.root, function () { return [self.u, self.history]; });
  };

  /* ---------------------------------------------------------------- job page */

  function JobChart(el, payload) {
    var self = this;
    this.el = el;
    this.url = el.dataset.url;
    this.logY = false;
    this.zoomed = false;
    this.hidden = new Set();   // names of the series the user hid
    this.payload = payload;
    this.zoom = new ZoomReset("job-reset", function () { if (self.u) self.u.setData(self.u.data, true); self.zoomed = false; });
    this.draw();
    var box = document.getElementById("job-logy");
    if (box) box.addEventListener("change", function () { self.logY = box.checked; self.draw(); });
    // The series checkboxes: the keyboard's (and everyone's) way to hide a series,
    // kept in step with a click on the chart's legend.
    document.addEventListener("change", function (e) {
      var check = e.target;
      if (!check.matches || !check.matches("#job-series input[type=checkbox]")) return;
      if (check.checked) self.hidden.delete(check.value); else self.hidden.add(check.value);
      var idx = self.shownNames().indexOf(check.value);
      if (self.u && idx >= 0) self.u.setSeries(idx + 1, { show: check.checked });
      self.describe();
    });
    whenResized(el, function () { return [self.u]; });
    onTick(el.dataset.clock, function () { return self.update().catch(function () {}); });
  }

  // The curves again when the job has new points (else the server says "unchanged").
  JobChart.prototype.update = function () {
    var self = this;
    return getJSON(this.url + "?since=" + this.payload.cursor).then(function (next) {
      if (next.unchanged) return;
      var sameSeries = next.series.length === self.payload.series.length;
      self.payload = next;
      if (self.u && sameSeries) { self.u.setData(self.data(), !self.zoomed); self.describe(); } else self.draw();
    });
  };

  JobChart.prototype.shown = function () {
    return this.payload.series.filter(function (s) { return s.data[0].length; });
  };

  JobChart.prototype.shownNames = function () {
    return this.shown().map(function (s) { return s.name; });
  };

  JobChart.prototype.data = function () {
    return logSafe(uPlot.join(this.shown().map(function (s) { return s.data; })), this.logY);
  };

  JobChart.prototype.toggles = function () {
    var self = this;
    var box = document.getElementById("job-series");
    if (!box) return;
    var names = this.shownNames();
    var have = Array.prototype.map.call(box.querySelectorAll("input"), function (c) { return c.value; });
    if (have.join("\n") === names.join("\n")) return;  // rebuilt only when the series change (keeps the focus)
    Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (l) { box.removeChild(l); });
    names.forEach(function (name, i) {
      var label = document.createElement("label");
      label.className = "check";
      var check = document.createElement("input");
      check.type = "checkbox";
      check.value = name;
      check.id = "job-series-" + i;
      check.checked = !self.hidden.has(name);
      label.appendChild(check);
      label.appendChild(document.createTextNode(" " + name));
      box.appendChild(label);
    });
  };

  // "Learning curve of this job: score over 40 points (steps 0 to 39), last 0.91, best 0.93
  // at step 31; accuracy over 40 points (steps 0 to 39), last 0.9." Hidden series are left out.
  JobChart.prototype.describe = function () {
    var self = this;
    var series = this.shown();
    if (!series.length) {
      describe("job-chart-summary", this.payload.ended ? "No intermediate result was reported." : "No intermediate result yet.");
      return;
    }
    var parts = series.filter(function (s) { return !self.hidden.has(s.name); }).map(function (s) {
      var xs = s.data[0], ys = s.data[1], best = -1;
      for (var k = 0; k < ys.length; k++) {
        if (ys[k] === null || ys[k] === undefined) continue;
        // The target's direction ranks the score; a labeled result's direction is unknown.
        if (best < 0 || (self.payload.maximize ? ys[k] > ys[best] : ys[k] < ys[best])) best = k;
      }
      var text = s.name + " over " + plural(xs.length, "point") + " (steps " + xs[0] + " to " + xs[xs.length - 1] + "), last " + fmt(ys[ys.length - 1]);
      if (s.name === "score" && best >= 0) text += ", best " + fmt(ys[best]) + " at step " + xs[best];
      return text;
    });
    describe("job-chart-summary", parts.length ? "Learning curve of this job: " + parts.join("; ") + "." : "Every series is hidden.");
  };

  JobChart.prototype.draw = function () {
    var self = this;
    var series = this.shown();
    if (this.u) { this.u.destroy(); this.u = null; }
    this.zoomed = false;
    this.zoom.set(false);
    this.toggles();
    this.describe();
    if (!series.length) { emptyNote(this.el, this.payload.ended ? "No intermediate result was reported." : "Waiting for the first intermediate result…"); return; }
    clear(this.el);
    this.u = new uPlot({
      width: widthOf(this.el), height: 320,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { distr: this.logY ? 3 : 1 } },
      axes: [axis("step", WHOLE), axis("value", { size: 60 })],
      series: [{ label: "step" }].concat(series.map(function (s, i) {
        return { label: s.name, show: !self.hidden.has(s.name), stroke: i === 0 ? ACCENT : PALETTE[(i + 1) % PALETTE.length], width: i === 0 ? 2 : 1.5, spanGaps: false, value: function (u, v) { return fmt(v); } };
      })),
      hooks: {
        setSelect: [function (u) { if (u.select.width > 0) { self.zoomed = true; self.zoom.set(true); } }],
        // A click on the legend shows or hides a series: the checkboxes follow.
        setSeries: [function (u, idx, opts) {
          if (!idx || !opts || opts.show === undefined) return;
          var name = u.series[idx].label;
          if (opts.show) self.hidden.delete(name); else self.hidden.add(name);
          var check = document.querySelector('#job-series input[value="' + CSS.escape(name) + '"]');
          if (check) check.checked = opts.show;
          self.describe();
        }]
      }
    }, this.data(), this.el);
    this.u.over.addEventListener("dblclick", function () { self.zoomed = false; self.zoom.set(false); });
  };

  /* ---------------------------------------------------------------- start */

  function start() {
    if (!window.uPlot) return;
    var curves = document.getElementById("curves-chart");
    var data = document.getElementById("chart-data");
    if (curves && data) window.aupsiteChart = new Experiment(curves, JSON.parse(data.textContent));
    var jobEl = document.getElementById("job-chart");
    var jobData = document.getElementById("job-data");
    if (jobEl && jobData) window.aupsiteChart = new JobChart(jobEl, JSON.parse(jobData.textContent));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
