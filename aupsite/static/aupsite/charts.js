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
 * The experiment page's URL carries its charts' view: the objective (the score or a
 * labeled result, which the history, the best job, the slice and contour plots rank
 * by), the series, log y, "Show all", the pinned jobs, the zoom and the contour's
 * parameters. The server draws the first view from it; this script writes it back
 * with replaceState as it changes, keeping every key of the page's other parts (the
 * jobs table's, the brush's b.*), and sends the brush's keys on to charts.json. It
 * dispatches aupsite:objective when the objective changes, and re-fetches on
 * aupsite:filter (the brush changed).
 *
 * A click on a chart opens a job; a double-click only resets the zoom (the click waits
 * a moment for a second one). Drawn curves get distinct colours in draw order, which
 * they keep while they stay drawn, named in a legend; a tooltip follows the cursor.
 *
 * Every chart has its equivalents for those who do not use a mouse or do not see it:
 * a table under it, a text summary (what it shows, how many jobs, the best) that its
 * element names with aria-describedby and that is rewritten whenever its data changes,
 * and buttons for what a pointer does on it (reset the zoom, choose the series, pin
 * a job: the jobs table's checkboxes).
 */
(function () {
  "use strict";

  // Shared with compare.js (static/aupsite/chartkit.js, loaded first).
  var kit = window.aupsiteChartkit;
  var cssVar = kit.cssVar, fmt = kit.fmt, axis = kit.axis, widthOf = kit.widthOf;
  var clear = kit.clear, emptyNote = kit.emptyNote, describe = kit.describe;

  var CURVES_DRAWN = "aupsite:curves-drawn";

  var PALETTE = [];
  for (var i = 0; i < 12; i++) PALETTE.push(cssVar("--series-" + i, "#888"));
  var FG = kit.FG;
  var GRID = kit.GRID;
  var ACCENT = cssVar("--accent", "#2f6feb");

  function colorFor(id) { return PALETTE[id % PALETTE.length]; }

  // Steps and job ids are whole numbers: never tick between them.
  var WHOLE = { incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000, 1e6] };

  function whenResized(el, charts) {
    if (!window.ResizeObserver) return;
    var last = el.clientWidth;
    new ResizeObserver(function () {
      if (el.clientWidth === last) return;
      last = el.clientWidth;
      charts().forEach(function (u) { if (u) u.setSize({ width: widthOf(u.root.parentNode), height: u.height }); });
    }).observe(el);
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

  /* ---------------------------------------------------------------- chart helpers */

  // A click on a chart opens a job, but not the clicks of a double-click (which resets
  // the zoom) nor the click that ends a drag (a zoom): the open waits this long for a
  // second click, and a drag of more than a few pixels is no click.
  var DOUBLE_CLICK_MS = 400;

  function clickOpens(u, pick, open) {
    var timer = null, down = null;
    function cancel() { if (timer) { clearTimeout(timer); timer = null; } }
    u.over.addEventListener("mousedown", function (e) { down = [e.clientX, e.clientY]; });
    u.over.addEventListener("click", function (e) {
      var moved = down && (Math.abs(e.clientX - down[0]) > 3 || Math.abs(e.clientY - down[1]) > 3);
      cancel();
      if (moved || e.detail > 1) return;
      var target = pick();
      if (target === null || target === undefined) return;
      timer = setTimeout(function () { timer = null; open(target); }, DOUBLE_CLICK_MS);
    });
    u.over.addEventListener("dblclick", cancel);
  }

  // A tooltip that follows the cursor over a chart and goes when the pointer leaves.
  // Hidden from assistive technology: each chart's table and summary say the same.
  function Tip(host) {
    this.host = host;
    this.el = document.createElement("div");
    this.el.className = "chart-tip";
    this.el.setAttribute("aria-hidden", "true");
    this.el.hidden = true;
    host.appendChild(this.el);
    var self = this;
    host.addEventListener("mouseleave", function () { self.hide(); });
  }

  Tip.prototype.show = function (lines, left, top) {
    var el = this.el;
    clear(el);
    lines.forEach(function (line, i) {
      var div = document.createElement("div");
      if (i === 0) div.className = "tip-head";
      div.textContent = line;
      el.appendChild(div);
    });
    el.hidden = false;
    // CSSOM, not a style attribute: the CSP allows it.
    var width = this.host.clientWidth, w = el.offsetWidth, h = el.offsetHeight;
    var x = left + 14, y = top + 14;
    if (x + w > width) x = Math.max(left - w - 10, 0);
    if (y + h > this.host.clientHeight) y = Math.max(top - h - 10, 0);
    el.style.left = x + "px";
    el.style.top = y + "px";
  };

  Tip.prototype.hide = function () { this.el.hidden = true; };

  // Colours of the drawn curves: distinct among them, from the palette in draw order,
  // and a job keeps its colour while it stays drawn (live updates move no colour).
  // Past the palette, hues spread by the golden angle.
  function ColorBook() { this.slots = new Map(); }

  ColorBook.prototype.assign = function (ids) {
    var self = this, keep = new Set(ids);
    Array.from(this.slots.keys()).forEach(function (id) { if (!keep.has(id)) self.slots.delete(id); });
    var used = new Set(this.slots.values());
    var next = 0;
    ids.forEach(function (id) {
      if (self.slots.has(id)) return;
      while (used.has(next)) next++;
      self.slots.set(id, next);
      used.add(next);
    });
  };

  ColorBook.prototype.slot = function (id) { return this.slots.get(id); };

  ColorBook.prototype.color = function (id) {
    var slot = this.slots.get(id);
    if (slot === undefined) return FG;
    if (slot < PALETTE.length) return PALETTE[slot];
    return "hsl(" + Math.round(((slot - PALETTE.length) * 137.508 + 20) % 360) + ", 62%, 48%)";
  };

  // The contour's colour scale, from the worst value to the best (viridis-like: ordered
  // in lightness, readable by the colour-blind, in both schemes).
  var HEAT = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function heat(goodness) {
    var t = Math.max(0, Math.min(1, goodness)) * (HEAT.length - 1);
    var i = Math.min(Math.floor(t), HEAT.length - 2), f = t - i;
    var c = HEAT[i].map(function (v, k) { return Math.round(v + (HEAT[i + 1][k] - v) * f); });
    return "rgb(" + c.join(",") + ")";
  }

  // Deterministic jitter of a category's points, from the job id: the same job sits at
  // the same place on every draw.
  function jitter(id) { return (((id * 2654435761) % 1000) / 1000 - 0.5) * 0.5; }

  function decadeSplits(u, axisIdx, min, max) {
    var out = [];
    for (var e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      var v = Math.pow(10, e);
      if (v >= min && v <= max) out.push(v);
    }
    // A span of less than a decade: its ends, so the axis is never bare.
    if (out.length < 2) out = [min, max];
    return out;
  }

  /* ---------------------------------------------------------------- the view in the URL */

  // The experiment page's URL carries the charts' view (its other keys belong to other
  // parts: the jobs table's, the brush's b.*; they are kept as they are).
  var VIEW_KEYS = ["objective", "series", "logy", "all", "pin", "zoom", "hzoom", "cx", "cy"];

  function urlView() {
    var q = new URLSearchParams(window.location.search);
    var view = {};
    VIEW_KEYS.forEach(function (k) { view[k] = q.get(k); });
    return view;
  }

  function range(text) {
    if (!text) return null;
    var parts = text.split(",").map(Number);
    if (parts.length !== 2 || !isFinite(parts[0]) || !isFinite(parts[1]) || parts[0] >= parts[1]) return null;
    return { min: parts[0], max: parts[1] };
  }

  /* ---------------------------------------------------------------- experiment page */

  function Experiment(root, payload) {
    var self = this;
    var view = urlView();
    this.root = root;
    this.url = root.dataset.url;
    this.jobUrl = root.dataset.jobUrl;
    this.series = payload.series.value;
    this.limits = payload.limits;  // the server's: the selection sent, the tables' rows
    this.showAll = payload.show_all;
    this.logY = view.logy === "1";
    this.objective = payload.objective ? payload.objective.key : "score";
    this.objectives = payload.objectives || [];
    this.cx = view.cx;
    this.cy = view.cy;
    this.selected = new Set();
    // The URL's pins first, in their order (the oldest goes first past the limit).
    (view.pin || "").split(",").forEach(function (id) {
      if (/^[0-9]+$/.test(id) && payload.curves.jobs.some(function (j) { return j.id === +id && j.selected; })) self.selected.add(+id);
    });
    this.colors = new ColorBook();
    this.curves = new Map();   // job id -> [xs, ys]
    this.jobs = [];            // drawn jobs, in order, from the last payload
    this.zoomed = false;
    this.zoomRange = range(view.zoom);
    this.historyRange = range(view.hzoom);
    this.u = null;
    this.history = null;
    this.paramCharts = [];
    this.generation = 0;       // bumps on a control change: late answers are dropped
    this.curvesZoom = new ZoomReset("curves-reset", function () { if (self.u) self.u.setData(self.u.data, true); self.setZoomed(false); });
    this.historyZoom = new ZoomReset("history-reset", function () {
      if (self.history) self.history.setData(self.history.data, true);
      self.setHistoryZoom(null);
    });
    this.apply(payload, true);
    this.bind();
    this.syncURL();
    // A failed update is retried on the next tick.
    onTick(root.dataset.clock, function () { return self.fetch(true).catch(function () {}); });
  }

  Experiment.prototype.jobLink = function (id) { return this.jobUrl.replace(/\/0\/$/, "/" + id + "/"); };

  Experiment.prototype.open = function (id) { window.location.href = this.jobLink(id); };

  // Writes the charts' view into the URL (replaceState: a chart tweak is no page of the
  // history, but reload, Back to this page and a shared link show it), keeping every
  // key of the others.
  Experiment.prototype.syncURL = function () {
    var q = new URLSearchParams(window.location.search);
    function put(k, v) { if (v === null || v === undefined || v === "") q.delete(k); else q.set(k, v); }
    function span(r) { return r ? +r.min.toPrecision(6) + "," + +r.max.toPrecision(6) : null; }
    put("objective", this.objective === "score" ? null : this.objective);
    put("series", this.series === "score" ? null : this.series);
    put("logy", this.logY ? "1" : null);
    put("all", this.showAll ? "1" : null);
    put("pin", Array.from(this.selected).join(","));
    put("zoom", this.zoomed ? span(this.zoomRange) : null);
    put("hzoom", span(this.historyRange));
    put("cx", this.cx);
    put("cy", this.cy);
    var search = q.toString().replace(/%2C/g, ",");
    var url = window.location.pathname + (search ? "?" + search : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", url);
    }
  };

  Experiment.prototype.setZoomed = function (on) {
    this.zoomed = on;
    this.curvesZoom.set(on);
    if (!on) this.zoomRange = null;
    else if (this.u && this.u.scales.x.min !== null) this.zoomRange = { min: this.u.scales.x.min, max: this.u.scales.x.max };
    this.syncURL();
  };

  Experiment.prototype.setHistoryZoom = function (r) {
    this.historyRange = r;
    this.historyZoom.set(!!r);
    this.syncURL();
  };

  Experiment.prototype.objectiveInfo = function () {
    var key = this.objective;
    var found = this.objectives.filter(function (o) { return o.key === key; })[0];
    return found || { key: "score", name: "score", direction: this.maximize ? "max" : "min" };
  };

  Experiment.prototype.apply = function (payload, full) {
    var self = this;
    this.cursor = payload.cursor;
    this.ended = payload.ended;
    this.maximize = payload.maximize;
    this.objectiveMaximize = payload.objective_maximize === undefined ? payload.maximize : payload.objective_maximize;
    if (payload.objectives) this.objectives = payload.objectives;
    this.seriesName = payload.series.name;
    this.totalJobs = payload.curves.total_jobs;
    if (full) this.curves.clear();
    var keep = new Set(payload.curves.jobs.map(function (j) { return j.id; }));
    Array.from(this.curves.keys()).forEach(function (id) { if (!keep.has(id)) self.curves.delete(id); });
    Object.keys(payload.curves.data).forEach(function (id) { self.curves.set(+id, payload.curves.data[id]); });
    var before = this.jobs.map(function (j) { return j.id; }).join(",");
    this.jobs = payload.curves.jobs.filter(function (j) { return self.curves.has(j.id); });
    this.jobs.forEach(function (j) { if (j.selected) self.selected.add(j.id); });
    this.colors.assign(this.jobs.map(function (j) { return j.id; }));
    var after = this.jobs.map(function (j) { return j.id; }).join(",");
    document.getElementById("curves-note").textContent = payload.curves.note || "";
    this.drawCurves(full || before !== after);
    if (payload.history) {
      this.historyVersion = payload.history_version;
      this.drawHistory(payload.history);
      this.drawParams(payload.history.params);
      this.drawContour(payload.history.contour, payload.history.params.axes, payload.history.contour_note);
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
      if (this.zoomed) this.setZoomed(false);
      emptyNote(el, this.ended ? "No job reported an intermediate result." : "Waiting for the first intermediate results…");
      this.legend();
      this.curvesTable();
      return;
    }
    if (this.u && !rebuild) {
      // Same curves, new points: keep the user's zoom (no rescale while zoomed).
      this.u.setData(data, !this.zoomed);
      this.curvesTable();
      return;
    }
    var keep = this.zoomed || (!this.u && this.zoomRange) ? this.zoomRange : null;
    var keepY = this.u && this.zoomed ? this.u.scales.y : null;
    if (this.u) this.u.destroy();
    clear(el);
    var best = this.jobs.length ? this.jobs[0].id : null;
    var series = [{ label: "step" }].concat(this.jobs.map(function (j) {
      return {
        label: "Job " + j.number, stroke: self.colors.color(j.id),
        width: (j.id === best || self.selected.has(j.id)) ? 2.2 : 1.3,
        points: kit.curvePoints(self.colors.color(j.id)), spanGaps: false
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
        // The tip names the focused curve: uPlot focuses a curve after it moved the
        // cursor, so the tip is drawn again once the focus has changed too.
        setSeries: [function (u, idx) { self.focusRow(idx === null ? null : self.jobs[idx - 1]); self.showCursor(u); }],
        setCursor: [function (u) { self.showCursor(u); }],
        setSelect: [function (u) { if (u.select.width > 0) self.setZoomed(true); }],
        setScale: [function (u, key) {
          if (key === "x" && self.zoomed && u.scales.x.min !== null) {
            self.zoomRange = { min: u.scales.x.min, max: u.scales.x.max };
            self.syncURL();
          }
        }],
        // The moment the curves are first on screen, for the browser benchmark
        // (bench/browser.py) and the end-to-end tests: a Performance API mark.
        draw: [function () {
          if (!performance.getEntriesByName(CURVES_DRAWN).length) performance.mark(CURVES_DRAWN);
        }]
      }
    };
    this.u = new uPlot(opts, data, el);
    this.tip = new Tip(this.u.over);
    // uPlot's own double-click resets the zoom; the chart says it is no longer zoomed.
    this.u.over.addEventListener("dblclick", function () { self.setZoomed(false); });
    clickOpens(this.u, function () { return self.focused ? self.focused.id : null; }, function (id) { self.open(id); });
    if (keep) {
      this.u.setScale("x", { min: keep.min, max: keep.max });
      if (keepY && keepY.min !== null) this.u.setScale("y", { min: keepY.min, max: keepY.max });
      this.setZoomed(true);
    } else if (this.zoomed) {
      this.setZoomed(false);
    }
    this.legend();
    this.colorSwatches();
    this.curvesTable();
  };

  // The legend: each drawn job by its number, in its colour (data-color: what is drawn).
  Experiment.prototype.legend = function () {
    var self = this;
    var list = document.getElementById("curves-legend");
    if (!list) return;
    clear(list);
    this.jobs.forEach(function (j) {
      var li = document.createElement("li");
      li.dataset.job = j.id;
      li.dataset.color = self.colors.color(j.id);
      var swatch = document.createElement("span");
      swatch.className = "legend-swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.backgroundColor = li.dataset.color;
      li.appendChild(swatch);
      li.appendChild(document.createTextNode("Job " + j.number + (self.selected.has(j.id) ? " (pinned)" : "")));
      li.addEventListener("mouseenter", function () { self.focusCurve(j.id); });
      li.addEventListener("mouseleave", function () { self.focusCurve(null); });
      list.appendChild(li);
    });
  };

  Experiment.prototype.showCursor = function (u) {
    var j = this.focused;
    var idx = u.cursor.idx;
    if (!this.tip) return;
    if (!j || idx === null || idx === undefined || u.cursor.left < 0) { this.tip.hide(); return; }
    var sIdx = this.jobs.indexOf(j) + 1;
    var y = u.data[sIdx] ? u.data[sIdx][idx] : null;
    this.tip.show([
      "Job " + j.number,
      "step " + u.data[0][idx] + " · " + this.seriesName + " " + fmt(y),
      "final score " + (j.score !== null ? fmt(j.score) : (j.score_text || "—")),
      "click to open"
    ], u.cursor.left, u.cursor.top);
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
    // style attribute is an inline style the CSP refuses. A job past the palette's
    // colours shows as drawn, without a colour of its own here (the legend has it).
    var self = this;
    var drawn = new Set(this.jobs.map(function (j) { return j.id; }));
    document.querySelectorAll("#jobs .swatch[data-job]").forEach(function (s) {
      var id = +s.dataset.job;
      var slot = drawn.has(id) ? self.colors.slot(id) : undefined;
      for (var c = 0; c < PALETTE.length; c++) s.classList.toggle("c" + c, slot === c);
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
    var name = this.objectiveInfo().name;
    var title = name.charAt(0).toUpperCase() + name.slice(1);
    document.getElementById("history-note").textContent = h.note || "";
    // x is the job's number within the experiment; h.jids[i] is the id that opens it.
    var numbers = h.points[0];
    var keep = this.historyRange;
    if (this.history) { this.history.destroy(); this.history = null; }
    if (!numbers.length) {
      this.historyZoom.set(false);
      emptyNote(el, "No job has a finite " + name + " yet.");
      describe("history-summary", "Optimization history of " + plural(this.totalJobs, "job") + ": no job has a finite " + name + " yet.");
      table(document.getElementById("history-table"), ["Job", title, "Best so far"], []);
      return;
    }
    // The best job set the last record: the line's last point only carries it to the end.
    var n = h.best[0].length;
    var record = n - 1;
    while (record > 0 && h.best[1][record - 1] === h.best[1][n - 1]) record--;
    describe("history-summary", "Optimization history: the final " + name + " of " + plural(numbers.length, "job") + " of " + this.totalJobs +
      " in order, and the best so far" + (this.objective === "score" ? "" : " (" + (this.objectiveMaximize ? "higher" : "lower") + " is better)") +
      "; best job " + h.best[0][record] + ", " + name + " " + fmt(h.best[1][record]) + ".");
    clear(el);
    var data = uPlot.join([h.points, h.best]);
    this.history = new uPlot({
      width: widthOf(el), height: 260,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 8 } },
      scales: { x: { time: false } },
      axes: [axis("job", WHOLE), axis(name, { size: 60 })],
      series: [
        { label: "job" },
        { label: name, stroke: PALETTE[0], fill: PALETTE[0], paths: function () { return null; }, points: { show: true, size: 6, stroke: PALETTE[0], fill: PALETTE[0] + "99" } },
        { label: "best so far", stroke: PALETTE[2], width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } }
      ],
      hooks: {
        setSelect: [function (u) {
          if (u.select.width > 0) self.setHistoryZoom({ min: u.posToVal(u.select.left, "x"), max: u.posToVal(u.select.left + u.select.width, "x") });
        }],
        setCursor: [function (u) {
          var i = u.cursor.idx;
          if (!tip) return;
          if (i === null || i === undefined || u.cursor.left < 0 || u.data[1][i] === null || u.data[1][i] === undefined) { tip.hide(); return; }
          var running = null;
          for (var k = 0; k < h.best[0].length && h.best[0][k] <= u.data[0][i]; k++) running = h.best[1][k];
          tip.show(["Job " + u.data[0][i], name + " " + fmt(u.data[1][i]), "best so far " + fmt(running), "click to open"], u.cursor.left, u.cursor.top);
        }]
      }
    }, data, el);
    var tip = new Tip(this.history.over);
    this.history.over.addEventListener("dblclick", function () { self.setHistoryZoom(null); });
    var chart = this.history;
    clickOpens(chart, function () {
      var i = chart.cursor.idx;
      if (i === null || i === undefined || chart.data[1][i] === null || chart.data[1][i] === undefined) return null;
      var at = numbers.indexOf(chart.data[0][i]);
      return at >= 0 ? h.jids[at] : null;
    }, function (id) { self.open(id); });
    if (keep) {
      this.history.setScale("x", { min: keep.min, max: keep.max });
      this.historyZoom.set(true);
    } else {
      this.historyZoom.set(false);
    }
    var best = new Map();
    for (var k = 0; k < h.best[0].length; k++) best.set(h.best[0][k], h.best[1][k]);
    var running = null;
    var rows = numbers.map(function (number, n) {
      if (best.has(number)) running = best.get(number);
      return ["Job " + number, fmt(h.points[1][n]), fmt(running)];
    });
    table(document.getElementById("history-table"), ["Job", title, "Best so far"], rows, this.limits.table_rows);
  };

  // One slice plot per hyperparameter: the objective of each job against the
  // parameter's value, on a log axis where the server says (declared, or spanning two
  // decades), categories in their declared order with the points jittered in a strip.
  Experiment.prototype.drawParams = function (p) {
    var self = this;
    var el = document.getElementById("params-charts");
    var name = this.objectiveInfo().name;
    var title = name.charAt(0).toUpperCase() + name.slice(1);
    this.paramCharts.forEach(function (u) { u.destroy(); });
    this.paramCharts = [];
    clear(el);
    var axes = p.axes.filter(function (a) { return p.series[a.name] && p.series[a.name][0].length; });
    if (!axes.length) {
      emptyNote(el, "No finished job with parameters and a finite " + name + " yet.");
      describe("params-summary", "Hyperparameters vs " + name + ": no finished job with parameters and a finite " + name + " yet.");
      table(document.getElementById("params-table"), ["Job"], []);
      return;
    }
    axes.forEach(function (a) {
      var s = p.series[a.name];
      var fig = document.createElement("figure");
      fig.dataset.param = a.name;
      fig.dataset.scale = a.scale;
      var cap = document.createElement("figcaption");
      cap.textContent = a.name + (a.scale === "log" ? " (log)" : "");
      fig.appendChild(cap);
      el.appendChild(fig);
      // [x, y, id, number] rows; a category's x is its index plus the job's jitter.
      var rows = s[0].map(function (x, i) { return [a.kind === "category" ? x + jitter(s[2][i]) : x, s[1][i], s[2][i], s[3][i], x]; });
      rows.sort(function (r, q) { return r[0] - q[0]; });
      var xs = rows.map(function (r) { return r[0]; }), ys = rows.map(function (r) { return r[1]; });
      var xScale = { time: false };
      var xAxis = axis(null, { size: 36 });
      if (a.kind === "category") {
        xScale.range = [-0.5, a.categories.length - 0.5];
        xAxis.splits = function () { return a.categories.map(function (_, i) { return i; }); };
        xAxis.values = function (u, splits) { return splits.map(function (v) { return a.categories[v]; }); };
      } else if (a.scale === "log") {
        xScale.distr = 3;
        // Grid and label the decades only; uPlot's own log splits are dense.
        xAxis.splits = decadeSplits;
        xAxis.values = function (u, splits) { return splits.map(fmt); };
      }
      var tip;
      var u = new uPlot({
        width: Math.max(fig.clientWidth, 220), height: 190,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 8 } },
        scales: { x: xScale },
        axes: [xAxis, axis(null, { size: 50 })],
        series: [{}, { stroke: PALETTE[0], fill: PALETTE[0], paths: function () { return null; }, points: { show: true, size: 6, stroke: PALETTE[0], fill: PALETTE[0] + "99" } }],
        hooks: { setCursor: [function (u) {
          var i = u.cursor.idx;
          if (!tip) return;
          if (i === null || i === undefined || u.cursor.left < 0) { tip.hide(); return; }
          var r = rows[i];
          var x = a.kind === "category" ? a.categories[r[4]] : fmt(r[4]);
          tip.show(["Job " + r[3], a.name + " = " + x, name + " " + fmt(r[1]), "click to open"], u.cursor.left, u.cursor.top);
        }] }
      }, [xs, ys], fig);
      tip = new Tip(u.over);
      clickOpens(u, function () {
        var i = u.cursor.idx;
        return i === null || i === undefined ? null : rows[i][2];
      }, function (id) { self.open(id); });
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
    var up = this.objectiveMaximize;
    var rows = Array.from(byJob.entries()).sort(function (x, y) { return up ? y[1].score - x[1].score : x[1].score - y[1].score; })
      .map(function (e) { return ["Job " + e[1].number].concat(axes.map(function (_, c) { return e[1].values[c] === undefined ? "—" : e[1].values[c]; })).concat([fmt(e[1].score)]); });
    table(document.getElementById("params-table"), ["Job"].concat(axes.map(function (a) { return a.name; })).concat([title]), rows, this.limits.table_rows);
    var best = rows[0];
    describe("params-summary", "Hyperparameters vs " + name + ": one scatter for each of " + axes.map(function (a) { return a.name + (a.scale === "log" ? " (log scale)" : ""); }).join(", ") +
      ", over " + plural(rows.length, "job") + "; best " + best[0].toLowerCase() + ", " + name + " " + best[best.length - 1] +
      ", with " + axes.map(function (a, c) { return a.name + " " + best[c + 1]; }).join(", ") + ".");
  };

  // The contour's parameter choosers follow the parameters the server charts.
  Experiment.prototype.contourChoosers = function (axes, contour) {
    var names = axes.map(function (a) { return a.name; });
    [["contour-x", contour ? contour.x.name : null], ["contour-y", contour ? contour.y.name : null]].forEach(function (pair) {
      var select = document.getElementById(pair[0]);
      if (!select) return;
      var have = Array.prototype.map.call(select.options, function (o) { return o.value; });
      if (have.join("\n") !== names.join("\n")) {
        clear(select);
        names.forEach(function (n) { var o = document.createElement("option"); o.value = n; o.textContent = n; select.appendChild(o); });
      }
      if (pair[1] !== null && select.value !== pair[1]) select.value = pair[1];
    });
  };

  // A cell edge: three significant digits are enough to tell the cells apart.
  function edge(v) { return fmt(+v.toPrecision(3)); }

  // A cell's span on one side, as text: "0.001–0.0032", or the category.
  function cellSpan(side, i) {
    if (side.kind === "category") return side.categories[i];
    return edge(side.edges[i]) + "–" + edge(side.edges[i + 1]);
  }

  // The contour: the server's grid of cells (at most 30 a side), each coloured by the
  // best value of its jobs in the objective's direction, the best colour for the best.
  Experiment.prototype.drawContour = function (c, axes, sampled) {
    var self = this;
    var el = document.getElementById("contour-chart");
    if (!el) return;
    var name = this.objectiveInfo().name;
    this.contourChoosers(axes || [], c);
    // A pair the user chose is kept in the URL as the server drew it (never one twice).
    if (c && (this.cx || this.cy)) { this.cx = c.x.name; this.cy = c.y.name; this.syncURL(); }
    clear(el);
    clear(document.getElementById("contour-legend"));
    document.getElementById("contour-note").textContent = "";
    var head = ["x", "y", "Jobs", "Best " + name, "Mean " + name];
    if (!c || !c.cells.length) {
      var why = !c ? "The contour needs two hyperparameters with values." : "No job has both parameters and a finite " + name + " yet.";
      emptyNote(el, why);
      describe("contour-summary", "Contour: " + why);
      table(document.getElementById("contour-table"), head, []);
      return;
    }
    var sides = [c.x, c.y];
    var up = c.maximize;
    var lo = c.range[0], hi = c.range[1];
    function goodness(v) { if (hi === lo) return 1; var t = (v - lo) / (hi - lo); return up ? t : 1 - t; }
    // Cell positions along a side: equal cells in the side's own scale.
    function count(side) { return side.kind === "category" ? side.categories.length : side.edges.length - 1; }
    var nx = count(c.x), ny = count(c.y);
    var width = widthOf(el), height = 300, left = 64, bottom = 42, top = 8, right = 12;
    var pw = width - left - right, ph = height - top - bottom;
    var canvas = document.createElement("canvas");
    var ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    el.appendChild(canvas);
    var ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    var cw = pw / nx, chh = ph / ny;
    c.cells.forEach(function (cell) {
      ctx.fillStyle = heat(goodness(cell[3]));
      ctx.fillRect(left + cell[0] * cw, top + (ny - 1 - cell[1]) * chh, Math.ceil(cw), Math.ceil(chh));
    });
    ctx.strokeStyle = GRID;
    ctx.strokeRect(left + 0.5, top + 0.5, pw - 1, ph - 1);
    ctx.fillStyle = FG;
    ctx.font = "11px system-ui, sans-serif";
    // Side labels: every category, or a few of the number edges.
    function labels(side, n, place) {
      if (side.kind === "category") {
        side.categories.forEach(function (label, i) { place(i + 0.5, String(label)); });
        return;
      }
      var step = Math.max(1, Math.ceil(n / 5));
      for (var i = 0; i <= n; i += step) place(i, edge(side.edges[i]));
      if (n % step) place(n, edge(side.edges[n]));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    labels(c.x, nx, function (pos, text) { ctx.fillText(text, left + pos * cw, top + ph + 4); });
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    labels(c.y, ny, function (pos, text) { ctx.fillText(text, left - 4, top + ph - pos * chh); });
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(c.x.name + (c.x.scale === "log" ? " (log)" : ""), left + pw / 2, height - 2);
    ctx.save();
    ctx.translate(12, top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(c.y.name + (c.y.scale === "log" ? " (log)" : ""), 0, 0);
    ctx.restore();
    el.dataset.cells = String(c.cells.length);
    // Hover: the cell under the cursor.
    var byCell = new Map();
    c.cells.forEach(function (cell) { byCell.set(cell[0] + "," + cell[1], cell); });
    var tip = new Tip(el);
    canvas.addEventListener("mousemove", function (e) {
      var box = canvas.getBoundingClientRect();
      var x = e.clientX - box.left, y = e.clientY - box.top;
      var i = Math.floor((x - left) / cw), j = ny - 1 - Math.floor((y - top) / chh);
      var cell = byCell.get(i + "," + j);
      if (!cell || x < left || y < top) { tip.hide(); return; }
      tip.show([c.x.name + " " + cellSpan(c.x, i) + ", " + c.y.name + " " + cellSpan(c.y, j),
        plural(cell[2], "job") + ", best " + name + " " + fmt(cell[3]), "mean " + fmt(cell[4])], x + 8, y + 8);
    });
    canvas.addEventListener("mouseleave", function () { tip.hide(); });
    // The legend: the colour scale from worst to best, with both ends' values.
    var legend = document.getElementById("contour-legend");
    var worstText = document.createElement("span");
    worstText.className = "muted small";
    worstText.textContent = "worst " + fmt(up ? lo : hi);
    var bar = document.createElement("canvas");
    bar.className = "heat-bar";
    bar.width = 160;
    bar.height = 12;
    bar.setAttribute("aria-hidden", "true");
    var bctx = bar.getContext("2d");
    for (var k = 0; k < 160; k++) { bctx.fillStyle = heat(k / 159); bctx.fillRect(k, 0, 1, 12); }
    var bestText = document.createElement("span");
    bestText.className = "muted small";
    bestText.textContent = "best " + fmt(up ? hi : lo) + " (" + (up ? "higher" : "lower") + " is better)";
    legend.appendChild(worstText);
    legend.appendChild(bar);
    legend.appendChild(bestText);
    legend.dataset.best = String(up ? hi : lo);
    var notes = sampled ? [sampled] : [];
    if (c.left_out) notes.push(plural(c.left_out, "job") + " without both parameters not placed.");
    document.getElementById("contour-note").textContent = notes.join(" ");
    // The table, best cell first; the summary names it.
    var rows = c.cells.slice().sort(function (p, q) { return up ? q[3] - p[3] : p[3] - q[3]; });
    table(document.getElementById("contour-table"), head, rows.map(function (cell) {
      return [cellSpan(c.x, cell[0]), cellSpan(c.y, cell[1]), cell[2], fmt(cell[3]), fmt(cell[4])];
    }), this.limits.table_rows);
    var top1 = rows[0];
    describe("contour-summary", "Contour of " + name + " over " + c.x.name + " and " + c.y.name + ": " + plural(c.cells.length, "cell") +
      " from " + plural(c.jobs, "job") + "; best cell " + c.x.name + " " + cellSpan(c.x, top1[0]) + ", " + c.y.name + " " +
      cellSpan(c.y, top1[1]) + ", best " + name + " " + fmt(top1[3]) + " (" + (up ? "higher" : "lower") + " is better).");
  };

  Experiment.prototype.query = function (incremental) {
    var q = new URLSearchParams();
    q.set("series", this.series);
    if (this.objective !== "score") q.set("objective", this.objective);
    if (this.cx) q.set("cx", this.cx);
    if (this.cy) q.set("cy", this.cy);
    if (this.showAll) q.set("all", "1");
    if (this.selected.size) q.set("select", Array.from(this.selected).slice(-this.limits.selected).join(","));
    // The brush (parallel coordinates): its b.* keys, as the page's URL has them.
    new URLSearchParams(window.location.search).forEach(function (value, key) {
      if (key.indexOf("b.") === 0) q.append(key, value);
    });
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

  // A control changed (series, show all, a pin, the objective, the brush): the whole
  // view again, now; the clock's next tick goes on from the cursor this answer brings.
  Experiment.prototype.reload = function () {
    this.generation++;
    this.syncURL();
    this.fetch(false).catch(function () {});
  };

  // The page-wide objective changed (here, or by another part of the page): the
  // history, slice and contour charts and the summary's best job follow it.
  Experiment.prototype.setObjective = function (key, announce) {
    if (key === this.objective) return;
    this.objective = key;
    this.historyRange = null;
    var select = document.getElementById("objective");
    if (select && select.value !== key) select.value = key;
    var info = this.objectiveInfo();
    document.querySelectorAll(".objective-name").forEach(function (el) { el.textContent = info.name; });
    var summary = document.getElementById("summary");
    if (summary && window.htmx) {
      window.htmx.ajax("GET", window.location.pathname, { target: "#summary", swap: "innerHTML", values: { objective: key } });
    }
    this.reload();
    if (announce) document.dispatchEvent(new CustomEvent("aupsite:objective", { detail: { key: key } }));
  };

  Experiment.prototype.bind = function () {
    var self = this;
    var seriesSelect = document.getElementById("curves-series");
    seriesSelect.value = this.series;
    seriesSelect.addEventListener("change", function () { self.series = seriesSelect.value; self.setZoomed(false); self.reload(); });
    var logBox = document.getElementById("curves-logy");
    logBox.checked = this.logY;
    logBox.addEventListener("change", function () { self.logY = logBox.checked; self.syncURL(); self.drawCurves(true); });
    var allButton = document.getElementById("curves-all");
    allButton.setAttribute("aria-pressed", String(!!this.showAll));
    allButton.addEventListener("click", function () {
      self.showAll = !self.showAll;
      // A toggle button keeps its name; its pressed state says which view is on.
      allButton.setAttribute("aria-pressed", String(self.showAll));
      self.reload();
    });
    var objectiveSelect = document.getElementById("objective");
    if (objectiveSelect) {
      objectiveSelect.value = this.objective;
      objectiveSelect.addEventListener("change", function () { self.setObjective(objectiveSelect.value, true); });
    }
    document.addEventListener("aupsite:objective", function (e) {
      if (e.detail && e.detail.key) self.setObjective(String(e.detail.key), false);
    });
    // The brush changed (parallel coordinates): the charts show the jobs inside it.
    document.addEventListener("aupsite:filter", function () { self.historyRange = null; self.reload(); });
    ["contour-x", "contour-y"].forEach(function (id) {
      var select = document.getElementById(id);
      if (!select) return;
      select.addEventListener("change", function () {
        if (id === "contour-x") self.cx = select.value; else self.cy = select.value;
        var other = document.getElementById(id === "contour-x" ? "contour-y" : "contour-x");
        if (other) { if (id === "contour-x") self.cy = other.value; else self.cx = other.value; }
        self.reload();
      });
    });
    // The jobs table's links push URLs of their own keys: the charts' keys go back in.
    document.body.addEventListener("htmx:pushedIntoHistory", function () { self.syncURL(); });
    document.body.addEventListener("htmx:replacedInHistory", function () { self.syncURL(); });
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
