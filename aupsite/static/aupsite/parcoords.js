/* aupsite parallel coordinates: one line per job across one axis per hyperparameter
 * and one for the objective, drawn on a canvas (uPlot has no parallel coordinates).
 *
 * The data comes from parcoords.json (tracking/parcoords.py: bounded, columnar; the
 * server says what it drew and of how many). Dragging along an axis brushes it (several
 * axes at once; a click on a brushed axis clears it); dragging an axis' title moves it;
 * the form under the chart does all of it with the keyboard (number inputs, category
 * checkboxes, move and show buttons).
 *
 * The brush is the page's `b.*` query keys and the axes' order and hidden ones its `axes`
 * key (history.replaceState, every other key kept), so reload, Back and a shared link
 * show the same view. On a change it dispatches `aupsite:filter` on document (the charts
 * follow) and refreshes the jobs table with the page's query; the server filters the
 * table and counts the jobs inside the brush (tracking/brush.py). It follows
 * `aupsite:objective`: the lines are coloured by the page's objective.
 *
 * The jobs table's own links and refresh keep every other key of the page: a request
 * into #jobs takes its table keys (status, sort, page) from the link and all the
 * others from the address bar as it is now (htmx:configRequest below).
 */
(function () {
  "use strict";

  var TABLE_KEYS = ["status", "sort", "page"];
  var PREFIX = "b.";

  // -- the page's query ----------------------------------------------------------------

  // Query text as people read it: "@", "," and ":" are allowed in a query as they are
  // (RFC 3986), and the server reads them either way.
  function queryText(params) {
    return params.toString().replace(/%40/g, "@").replace(/%2C/gi, ",").replace(/%3A/gi, ":");
  }

  function pageParams() { return new URLSearchParams(window.location.search); }

  function replaceQuery(params) {
    var text = queryText(params);
    history.replaceState(history.state, "", window.location.pathname + (text ? "?" + text : "") + window.location.hash);
  }

  // The jobs table's requests keep every key of the page but its own.
  document.addEventListener("htmx:configRequest", function (e) {
    var target = e.detail.target;
    if (!target || target.id !== "jobs" || String(e.detail.verb).toLowerCase() !== "get") return;
    var asked = new URL(e.detail.path, window.location.href);
    var merged = new URLSearchParams();
    pageParams().forEach(function (value, key) { if (TABLE_KEYS.indexOf(key) < 0) merged.append(key, value); });
    asked.searchParams.forEach(function (value, key) { if (TABLE_KEYS.indexOf(key) >= 0) merged.append(key, value); });
    var text = queryText(merged);
    e.detail.path = asked.pathname + (text ? "?" + text : "");
  });

  var root = document.getElementById("parcoords");
  if (!root) return;

  // -- values and scales ------------------------------------------------------------------

  function fmt(v) {
    if (v === null || v === undefined) return "—";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(4));
  }

  // A bound as the URL writes it: short, and still inside what was brushed.
  function urlNumber(v, digits) { return String(+v.toPrecision(digits)); }

  function escapeCategory(text) { return text.replace(/\\/g, "\\\\").replace(/,/g, "\\,"); }

  function splitCategories(text) {
    var out = [], cur = "";
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === "\\" && i + 1 < text.length) { cur += text[++i]; continue; }
      if (c === ",") { out.push(cur); cur = ""; } else cur += c;
    }
    out.push(cur);
    return out;
  }

  var NUMBER = "-?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?";
  var RANGE = new RegExp("^(" + NUMBER + ")?\\.\\.(" + NUMBER + ")?$");

  function parseBrushValue(value) {
    if (value.indexOf("in:") === 0) return { cats: splitCategories(value.slice(3)) };
    var m = RANGE.exec(value);
    if (!m || (m[1] === undefined && m[2] === undefined)) return null;
    return { low: m[1] === undefined ? null : +m[1], high: m[2] === undefined ? null : +m[2] };
  }

  function brushValue(axis, b) {
    if (b.cats) return "in:" + b.cats.map(escapeCategory).join(",");
    var digits = axis.kind === "objective" ? 6 : 4;
    return (b.low === null ? "" : urlNumber(b.low, digits)) + ".." + (b.high === null ? "" : urlNumber(b.high, digits));
  }

  function Scale(axis) {
    this.axis = axis;
    this.cat = axis.kind === "category";
    if (this.cat) return;
    var lo = axis.min, hi = axis.max;
    this.log = !!axis.log && lo > 0;
    if (this.log) { lo = Math.log10(lo); hi = Math.log10(hi); }
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    this.lo = lo; this.hi = hi;
  }
  // 0 (bottom) .. 1 (top) for a drawn value (a number, or a category's index).
  Scale.prototype.t = function (v) {
    if (v === null || v === undefined) return null;
    if (this.cat) return (v + 0.5) / Math.max(this.axis.categories.length, 1);
    var x = this.log ? (v > 0 ? Math.log10(v) : null) : v;
    return x === null ? null : (x - this.lo) / (this.hi - this.lo);
  };
  Scale.prototype.value = function (t) {
    var x = this.lo + t * (this.hi - this.lo);
    return this.log ? Math.pow(10, x) : x;
  };
  Scale.prototype.ticks = function () {
    var a = this.axis, out = [];
    if (this.cat) {
      var n = a.categories.length, every = Math.max(1, Math.ceil(n / 12));
      for (var i = 0; i < n; i += every) out.push([this.t(i), a.categories[i]]);
      return out;
    }
    if (this.log && this.hi - this.lo >= 1) {
      for (var e = Math.ceil(this.lo - 1e-9); e <= Math.floor(this.hi + 1e-9); e++) out.push([(e - this.lo) / (this.hi - this.lo), "1e" + e]);
      return out;
    }
    for (var k = 0; k <= 4; k++) out.push([k / 4, fmt(this.value(k / 4))]);
    return out;
  };

  // Colours: worse to better, from the scheme's own variables (light and dark).
  function cssVar(name, fallback) {
    var value = getComputedStyle(root).getPropertyValue(name).trim();
    return value || fallback;
  }
  function hexRgb(hex) {
    var m = /^#([0-9a-f]{6})$/i.exec(hex);
    var n = m ? parseInt(m[1], 16) : 0x888888;
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  var BUCKETS = 24;
  function palette() {
    var stops = [cssVar("--pc-worse", "#4c6fb5"), cssVar("--pc-mid", "#9c57a6"), cssVar("--pc-better", "#d9480f")].map(hexRgb);
    var out = [];
    for (var i = 0; i < BUCKETS; i++) {
      var t = i / (BUCKETS - 1), seg = t < 0.5 ? 0 : 1, u = t < 0.5 ? t * 2 : (t - 0.5) * 2;
      var a = stops[seg], b = stops[seg + 1];
      out.push("rgb(" + [0, 1, 2].map(function (c) { return Math.round(a[c] + (b[c] - a[c]) * u); }).join(",") + ")");
    }
    return out;
  }

  // -- the view -------------------------------------------------------------------------

  var chartBox = document.getElementById("parcoords-chart");
  var canvas = document.createElement("canvas");
  canvas.className = "pc-canvas";
  chartBox.appendChild(canvas);
  var legend = document.getElementById("parcoords-legend-bar");
  var countEl = document.getElementById("parcoords-count");
  var clearButton = document.getElementById("parcoords-clear");
  var form = document.getElementById("parcoords-form");
  var MARGIN = { top: 46, bottom: 26, left: 56, right: 56 };
  var HEIGHT = 340;

  var state = {
    data: null, axes: [], scales: {}, order: [], hidden: {}, brush: {},
    objective: pageParams().get("objective") || "score", drag: null, frame: 0, fetched: 0
  };

  function axisByKey(key) {
    for (var i = 0; i < state.axes.length; i++) if (state.axes[i].key === key) return state.axes[i];
    return null;
  }
  function visibleAxes() {
    return state.order.filter(function (k) { return !state.hidden[k]; }).map(axisByKey).filter(Boolean);
  }

  function readURL() {
    var params = pageParams();
    state.brush = {};
    params.forEach(function (value, key) {
      if (key.indexOf(PREFIX) !== 0) return;
      var b = parseBrushValue(value);
      if (b) state.brush[key.slice(PREFIX.length)] = b;
    });
    state.urlAxes = params.get("axes");
  }

  // The axes' order and hidden ones, from the URL's `axes` (unknown keys ignored, new
  // axes appended): "lr,-dropout,@score" hides dropout.
  function applyAxesKey() {
    var keys = state.axes.map(function (a) { return a.key; });
    state.order = keys.slice();
    state.hidden = {};
    if (!state.urlAxes) return;
    var order = [];
    splitCategories(state.urlAxes).forEach(function (item) {
      var hidden = item.charAt(0) === "-", key = hidden ? item.slice(1) : item;
      if (keys.indexOf(key) >= 0 && order.indexOf(key) < 0) { order.push(key); if (hidden) state.hidden[key] = true; }
    });
    keys.forEach(function (k) { if (order.indexOf(k) < 0) order.push(k); });
    state.order = order;
  }

  function axesKey() {
    var keys = state.axes.map(function (a) { return a.key; });
    var changed = state.order.join("\u0000") !== keys.join("\u0000") || Object.keys(state.hidden).length;
    if (!changed) return null;
    return state.order.map(function (k) { return (state.hidden[k] ? "-" : "") + escapeCategory(k); }).join(",");
  }

  function brushQuery() {
    var q = new URLSearchParams();
    Object.keys(state.brush).sort().forEach(function (key) {
      var axis = axisByKey(key);
      if (axis) q.set(PREFIX + key, brushValue(axis, state.brush[key]));
    });
    return q;
  }

  function writeURL() {
    var params = pageParams(), drop = [];
    params.forEach(function (_, key) { if (key.indexOf(PREFIX) === 0) drop.push(key); });
    drop.forEach(function (key) { params.delete(key); });
    brushQuery().forEach(function (value, key) { params.set(key, value); });
    var axes = axesKey();
    state.urlAxes = axes;  // what a later answer (another objective) is arranged by
    if (axes) params.set("axes", axes); else params.delete("axes");
    params.delete("page");  // the brushed table starts again at its first page
    replaceQuery(params);
  }

  function inside(row) {
    var data = state.data;
    for (var key in state.brush) {
      var axis = axisByKey(key);
      if (!axis) continue;
      var v = data.jobs.values[state.axes.indexOf(axis)][row], b = state.brush[key];
      if (v === null || v === undefined) return false;
      if (b.cats) { if (b.cats.indexOf(axis.categories[v]) < 0) return false; }
      else if ((b.low !== null && v < b.low) || (b.high !== null && v > b.high)) return false;
    }
    return true;
  }

  // -- drawing ----------------------------------------------------------------------------

  function geometry() {
    var width = Math.max(chartBox.clientWidth, 320);
    var axes = visibleAxes();
    var span = width - MARGIN.left - MARGIN.right;
    var xs = axes.map(function (_, i) { return MARGIN.left + (axes.length > 1 ? (i * span) / (axes.length - 1) : span / 2); });
    return { width: width, height: HEIGHT, axes: axes, xs: xs, plotH: HEIGHT - MARGIN.top - MARGIN.bottom };
  }

  function yOf(g, t) { return MARGIN.top + (1 - t) * g.plotH; }

  function draw() {
    state.frame = 0;
    var data = state.data;
    if (!data) return;
    var g = geometry();
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(g.width * ratio);
    canvas.height = Math.round(g.height * ratio);
    canvas.style.width = g.width + "px";
    canvas.style.height = g.height + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    var colours = palette();
    var n = data.jobs.id.length, obj = state.axes[state.axes.length - 1], objScale = state.scales[obj.key];
    var objCol = data.jobs.values[state.axes.length - 1];
    var cols = g.axes.map(function (a) { return data.jobs.values[state.axes.indexOf(a)]; });
    var scales = g.axes.map(function (a) { return state.scales[a.key]; });
    var brushed = Object.keys(state.brush).length > 0;
    // Worse first, so that the better lines are drawn over them.
    var order = [];
    for (var r = 0; r < n; r++) order.push(r);
    order.sort(function (a, b) { return obj.maximize ? objCol[a] - objCol[b] : objCol[b] - objCol[a]; });
    var paths = [], outside = new Path2D(), drawnInside = 0;
    for (var c = 0; c < BUCKETS; c++) paths.push(new Path2D());
    order.forEach(function (row) {
      var isIn = !brushed || inside(row);
      var t = objScale.t(objCol[row]);
      var good = obj.maximize ? t : 1 - t;
      var path = isIn ? paths[Math.max(0, Math.min(BUCKETS - 1, Math.round(good * (BUCKETS - 1))))] : outside;
      if (isIn) drawnInside++;
      var pen = false;
      for (var i = 0; i < cols.length; i++) {
        var ti = scales[i].t(cols[i][row]);
        if (ti === null || !isFinite(ti)) { pen = false; continue; }
        var x = g.xs[i], y = yOf(g, Math.max(0, Math.min(1, ti)));
        if (pen) path.lineTo(x, y); else path.moveTo(x, y);
        pen = true;
      }
    });
    state.drawnInside = drawnInside;
    ctx.lineWidth = 1;
    ctx.strokeStyle = cssVar("--pc-out", "rgba(128,128,128,0.25)");
    ctx.stroke(outside);
    ctx.globalAlpha = n > 500 ? 0.55 : 0.85;
    ctx.lineWidth = n > 500 ? 1 : 1.4;
    paths.forEach(function (p, i) { ctx.strokeStyle = colours[i]; ctx.stroke(p); });
    ctx.globalAlpha = 1;
    // Axes, their titles and ticks, and the brushes.
    var fg = cssVar("--fg", "#222"), muted = cssVar("--muted", "#666");
    var spacing = g.axes.length > 1 ? g.xs[1] - g.xs[0] : g.width;
    // The brushes first, under the axes' lines and labels.
    g.axes.forEach(function (a, i) {
      var b = state.brush[a.key];
      if (!b) return;
      var span = brushSpan(a, b, g), x = g.xs[i];
      ctx.fillStyle = cssVar("--pc-brush", "rgba(31,95,209,0.18)");
      ctx.strokeStyle = cssVar("--accent", "#1f5fd1");
      ctx.lineWidth = 1;
      ctx.fillRect(x - 8, span[0], 16, Math.max(span[1] - span[0], 2));
      ctx.strokeRect(x - 8, span[0], 16, Math.max(span[1] - span[0], 2));
    });
    g.axes.forEach(function (a, i) {
      var x = g.xs[i], s = scales[i];
      ctx.strokeStyle = muted; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, MARGIN.top + g.plotH); ctx.stroke();
      ctx.fillStyle = fg; ctx.font = "600 12px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "alphabetic";
      ctx.fillText(clipText(ctx, a.name + (a.kind === "objective" ? (a.maximize ? " ↑" : " ↓") : "") , spacing - 8), x, 18);
      ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = muted;
      ctx.fillText(a.kind === "category" ? "categories" : (s.log ? "log" : (a.kind === "objective" ? "objective" : "")), x, 32);
      ctx.textAlign = i === g.axes.length - 1 && g.axes.length > 1 ? "right" : "left";
      ctx.textBaseline = "middle";
      s.ticks().forEach(function (tick) {
        var y = yOf(g, tick[0]);
        ctx.beginPath(); ctx.moveTo(x - 3, y); ctx.lineTo(x + 3, y); ctx.stroke();
        ctx.fillText(clipText(ctx, tick[1], Math.min(spacing / 2 - 6, 90)), ctx.textAlign === "right" ? x - 6 : x + 6, y);
      });
    });
    if (state.drag && state.drag.kind === "move" && state.drag.moved) {
      ctx.strokeStyle = cssVar("--accent", "#1f5fd1"); ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(state.drag.x, MARGIN.top - 8); ctx.lineTo(state.drag.x, MARGIN.top + g.plotH); ctx.stroke();
    }
  }

  function clipText(ctx, text, width) {
    text = String(text);
    if (width <= 10 || ctx.measureText(text).width <= width) return text;
    while (text.length > 1 && ctx.measureText(text + "…").width > width) text = text.slice(0, -1);
    return text + "…";
  }

  // The pixel rows [top, bottom] a brush covers on its axis.
  function brushSpan(axis, b, g) {
    var s = state.scales[axis.key];
    if (b.cats) {
      var ts = b.cats.map(function (c) { return axis.categories.indexOf(c); }).filter(function (i) { return i >= 0; }).map(function (i) { return s.t(i); });
      if (!ts.length) return [yOf(g, 0), yOf(g, 0)];
      var half = 0.5 / Math.max(axis.categories.length, 1);
      return [yOf(g, Math.min(1, Math.max.apply(null, ts) + half)), yOf(g, Math.max(0, Math.min.apply(null, ts) - half))];
    }
    var hi = b.high === null ? 1 : s.t(b.high), lo = b.low === null ? 0 : s.t(b.low);
    return [yOf(g, Math.max(0, Math.min(1, hi === null ? 1 : hi))), yOf(g, Math.max(0, Math.min(1, lo === null ? 0 : lo)))];
  }

  function schedule() { if (!state.frame) state.frame = requestAnimationFrame(draw); }

  function drawLegend() {
    if (!legend || !state.data) return;
    var obj = state.axes[state.axes.length - 1];
    var colours = palette();
    legend.replaceChildren();
    colours.forEach(function (c) {
      var cell = document.createElement("span");
      cell.className = "pc-legend-cell";
      cell.dataset.colour = c;
      legend.appendChild(cell);
    });
    // Colours set through CSSOM (allowed by the CSP, unlike style attributes in HTML).
    Array.prototype.forEach.call(legend.children, function (cell) { cell.style.backgroundColor = cell.dataset.colour; });
    document.getElementById("parcoords-legend-worse").textContent = "worse " + fmt(obj.maximize ? obj.min : obj.max);
    document.getElementById("parcoords-legend-better").textContent = "better " + fmt(obj.maximize ? obj.max : obj.min);
    document.getElementById("parcoords-legend-name").textContent = obj.name + " (" + (obj.maximize ? "higher" : "lower") + " is better)";
  }

  // -- pointer: brush along an axis, move an axis by its title ---------------------------------

  function nearestAxis(g, x) {
    var best = -1, dist = 18;
    g.xs.forEach(function (ax, i) { var d = Math.abs(ax - x); if (d < dist) { dist = d; best = i; } });
    return best;
  }

  function local(e) {
    var rect = canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  canvas.addEventListener("pointerdown", function (e) {
    if (!state.data || e.button !== 0) return;
    var g = geometry(), p = local(e), i = nearestAxis(g, p.x);
    if (i < 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    var axis = g.axes[i];
    state.drag = { kind: p.y < MARGIN.top - 4 ? "move" : "brush", axis: axis, index: i, y0: p.y, x0: p.x, x: p.x, moved: false, before: state.brush[axis.key] };
  });

  canvas.addEventListener("pointermove", function (e) {
    var d = state.drag;
    if (!d) return;
    var p = local(e);
    if (Math.abs(p.y - d.y0) > 3 || Math.abs(p.x - d.x0) > 3) d.moved = true;
    if (!d.moved) return;
    if (d.kind === "brush") setBrushFromPixels(d.axis, d.y0, p.y);
    else d.x = p.x;
    schedule();
  });

  function endDrag(e) {
    var d = state.drag;
    if (!d) return;
    state.drag = null;
    if (d.kind === "move") {
      if (d.moved) {
        // Dropped before the first other visible axis to the right of the pointer.
        var g = geometry(), p = local(e), before = null;
        for (var i = 0; i < g.axes.length && before === null; i++) {
          if (g.axes[i].key !== d.axis.key && g.xs[i] > p.x) before = g.axes[i].key;
        }
        var order = state.order.filter(function (k) { return k !== d.axis.key; });
        order.splice(before === null ? order.length : order.indexOf(before), 0, d.axis.key);
        state.order = order;
        writeURL();
        renderForm();
        describe();
      }
      schedule();
      return;
    }
    if (!d.moved) {
      // A click on an axis clears its brush.
      if (state.brush[d.axis.key]) { delete state.brush[d.axis.key]; commit(); }
      return;
    }
    commit();
  }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", function () { state.drag = null; schedule(); });

  function setBrushFromPixels(axis, y0, y1) {
    var g = geometry(), s = state.scales[axis.key];
    var top = Math.max(MARGIN.top, Math.min(y0, y1)), bottom = Math.min(MARGIN.top + g.plotH, Math.max(y0, y1));
    // Within a few pixels of an end is that end: the brush is open on that side.
    if (top - MARGIN.top < 4) top = MARGIN.top;
    if (MARGIN.top + g.plotH - bottom < 4) bottom = MARGIN.top + g.plotH;
    var tHi = 1 - (top - MARGIN.top) / g.plotH, tLo = 1 - (bottom - MARGIN.top) / g.plotH;
    if (axis.kind === "category") {
      var cats = axis.categories.filter(function (_, i) { var t = s.t(i); return t >= tLo && t <= tHi; });
      if (cats.length) state.brush[axis.key] = { cats: cats }; else delete state.brush[axis.key];
      return;
    }
    state.brush[axis.key] = { low: tLo <= 0 ? null : s.value(tLo), high: tHi >= 1 ? null : s.value(tHi) };
    if (state.brush[axis.key].low === null && state.brush[axis.key].high === null) delete state.brush[axis.key];
    else roundBrush(axis, state.brush[axis.key]);
  }

  // A brush as the URL will write it, so that what is drawn is what the server filters.
  function roundBrush(axis, b) {
    var digits = axis.kind === "objective" ? 6 : 4;
    if (b.low !== null) b.low = +b.low.toPrecision(digits);
    if (b.high !== null) b.high = +b.high.toPrecision(digits);
  }

  function moveAxis(key, by) {
    var i = state.order.indexOf(key), j = Math.max(0, Math.min(state.order.length - 1, i + by));
    if (i < 0 || i === j) { schedule(); return; }
    state.order.splice(i, 1);
    state.order.splice(j, 0, key);
    writeURL();
    renderForm();
    schedule();
  }

  // -- a change of the brush: the URL, the table, the charts, the count ------------------------

  function commit() {
    writeURL();
    var query = queryText(brushQuery());
    document.dispatchEvent(new CustomEvent("aupsite:filter", { detail: { query: query } }));
    refreshTable();
    clearButton.disabled = !Object.keys(state.brush).length;
    renderForm();
    schedule();
    describe();
    if (!Object.keys(state.brush).length) showCount(state.data.total, state.data.total);
  }

  // One table request at a time, the next with the URL as it is then: htmx would queue
  // it with the table element of the moment, which the answer before replaces.
  var table = { busy: false, again: false };
  function refreshTable() {
    if (!window.htmx || !document.getElementById("jobs")) return;
    if (table.busy) { table.again = true; return; }
    table.busy = true;
    var done = function () {
      table.busy = false;
      if (table.again) { table.again = false; refreshTable(); }
    };
    window.htmx.ajax("GET", window.location.pathname + window.location.search,
      { target: "#jobs", swap: "outerHTML" }).then(done, done);
  }

  function showCount(inside, total) {
    state.inside = inside;
    countEl.textContent = Object.keys(state.brush).length
      ? inside + " of " + total + " job" + (total === 1 ? "" : "s") + " in the brush"
      : total + " job" + (total === 1 ? "" : "s") + ", no brush";
  }

  // The table says how many jobs are inside the brush (counted by the server).
  document.body.addEventListener("htmx:afterSettle", function () {
    var note = document.getElementById("jobs-brush");
    if (note && Object.keys(state.brush).length) showCount(+note.dataset.inside, +note.dataset.total);
  });

  clearButton.addEventListener("click", function () { state.brush = {}; commit(); });

  // -- the keyboard's way: a form per axis, and the text and table alternatives ----------------

  function field(labelText, input) {
    var label = document.createElement("label");
    label.textContent = labelText + " ";
    label.appendChild(input);
    return label;
  }

  function renderForm() {
    var list = document.getElementById("parcoords-axes");
    if (!list || !state.data) return;
    var focused = document.activeElement && document.activeElement.id;
    list.replaceChildren();
    state.order.forEach(function (key, position) {
      var axis = axisByKey(key), id = "pc-" + position;
      var item = document.createElement("fieldset");
      item.className = "pc-axis";
      var legendEl = document.createElement("legend");
      legendEl.textContent = axis.name + (axis.kind === "objective" ? " (objective)" : "");
      item.appendChild(legendEl);
      var show = document.createElement("input");
      show.type = "checkbox"; show.checked = !state.hidden[key]; show.id = id + "-show";
      show.addEventListener("change", function () { if (show.checked) delete state.hidden[key]; else state.hidden[key] = true; writeURL(); schedule(); });
      item.appendChild(field("Show", show));
      [["Move left", -1], ["Move right", 1]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button"; button.className = "button ghost small"; button.textContent = spec[0];
        button.id = id + (spec[1] < 0 ? "-left" : "-right");
        button.setAttribute("aria-label", spec[0] + ": " + axis.name);
        var edge = spec[1] < 0 ? position === 0 : position === state.order.length - 1;
        if (edge) button.disabled = true;
        button.addEventListener("click", function () { moveAxis(key, spec[1]); var again = document.getElementById("pc-" + (position + spec[1]) + (spec[1] < 0 ? "-left" : "-right")); if (again && !again.disabled) again.focus(); else { var s = document.getElementById("pc-" + (position + spec[1]) + "-show"); if (s) s.focus(); } });
        item.appendChild(button);
      });
      var b = state.brush[key];
      if (axis.kind === "category") {
        var group = document.createElement("div");
        group.className = "pc-cats";
        axis.categories.slice(0, 60).forEach(function (cat, ci) {
          var box = document.createElement("input");
          box.type = "checkbox"; box.value = cat; box.id = id + "-cat-" + ci; box.className = "pc-cat";
          box.checked = !!(b && b.cats && b.cats.indexOf(cat) >= 0);
          group.appendChild(field(cat, box));
        });
        item.appendChild(group);
      } else {
        ["low", "high"].forEach(function (end) {
          var input = document.createElement("input");
          input.type = "number"; input.step = "any"; input.id = id + "-" + end; input.className = "pc-bound";
          input.dataset.end = end;
          input.value = b && !b.cats && b[end] !== null ? String(b[end]) : "";
          input.placeholder = fmt(end === "low" ? axis.min : axis.max);
          item.appendChild(field(end === "low" ? "From" : "To", input));
        });
      }
      item.dataset.key = key;
      list.appendChild(item);
    });
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var next = {};
    Array.prototype.forEach.call(form.querySelectorAll("fieldset.pc-axis"), function (item) {
      var key = item.dataset.key, axis = axisByKey(key);
      if (axis.kind === "category") {
        var cats = Array.prototype.filter.call(item.querySelectorAll("input.pc-cat"), function (b) { return b.checked; }).map(function (b) { return b.value; });
        if (cats.length) next[key] = { cats: cats };
        return;
      }
      var bounds = {};
      Array.prototype.forEach.call(item.querySelectorAll("input.pc-bound"), function (input) {
        var v = input.value.trim() === "" ? null : Number(input.value);
        bounds[input.dataset.end] = v === null || isFinite(v) ? v : null;
      });
      if (bounds.low !== null && bounds.high !== null && bounds.low > bounds.high) { var t = bounds.low; bounds.low = bounds.high; bounds.high = t; }
      if (bounds.low !== null || bounds.high !== null) next[key] = bounds;
    });
    state.brush = next;
    commit();
  });

  function describe() {
    var data = state.data, summary = document.getElementById("parcoords-summary");
    var parts = Object.keys(state.brush).sort().map(function (key) {
      var axis = axisByKey(key), b = state.brush[key];
      if (!axis) return null;
      if (b.cats) return axis.name + " in " + b.cats.join(", ");
      if (b.low !== null && b.high !== null) return axis.name + " from " + fmt(b.low) + " to " + fmt(b.high);
      return axis.name + (b.low !== null ? " at least " + fmt(b.low) : " at most " + fmt(b.high));
    }).filter(Boolean);
    var obj = state.axes[state.axes.length - 1];
    summary.textContent = "Parallel coordinates of " + data.drawn + " jobs over " + visibleAxes().map(function (a) { return a.name; }).join(", ") +
      ", coloured by " + obj.name + ". " + (parts.length ? "Brush: " + parts.join("; ") + "." : "No brush.");
    document.getElementById("parcoords-brush-text").textContent = parts.length ? "Brush: " + parts.join("; ") + "." : "No brush: drag along an axis to keep the jobs in a range.";
    renderTable();
  }

  function renderTable() {
    var data = state.data, box = document.getElementById("parcoords-table");
    var obj = state.axes[state.axes.length - 1], objCol = data.jobs.values[state.axes.length - 1];
    var rows = [];
    for (var r = 0; r < data.jobs.id.length; r++) rows.push(r);
    rows.sort(function (a, b) { return obj.maximize ? objCol[b] - objCol[a] : objCol[a] - objCol[b]; });
    var brushed = Object.keys(state.brush).length > 0;
    if (brushed) rows = rows.filter(inside);
    var shown = rows.slice(0, data.limits.table_rows);
    var table = document.createElement("table");
    table.className = "data compact";
    var caption = document.createElement("caption");
    caption.className = "muted small";
    caption.textContent = "The first " + shown.length + " of the " + rows.length + " drawn jobs" + (brushed ? " inside the brush" : "") + ", best first.";
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    ["Job"].concat(state.axes.map(function (a) { return a.name; })).forEach(function (text) {
      var th = document.createElement("th"); th.scope = "col"; th.textContent = text; head.appendChild(th);
    });
    var body = table.createTBody();
    shown.forEach(function (r) {
      var tr = body.insertRow();
      tr.insertCell().textContent = "Job " + data.jobs.number[r];
      state.axes.forEach(function (a, i) {
        var v = data.jobs.values[i][r];
        tr.insertCell().textContent = v === null || v === undefined ? "—" : (a.kind === "category" ? a.categories[v] : fmt(v));
      });
    });
    box.replaceChildren(table);
  }

  // -- data -------------------------------------------------------------------------------

  function load() {
    var q = new URLSearchParams();
    q.set("objective", state.objective);
    brushQuery().forEach(function (value, key) { q.set(key, value); });
    // The brush as the URL holds it (the axes are not known before the first answer).
    pageParams().forEach(function (value, key) { if (key.indexOf(PREFIX) === 0 && !q.has(key)) q.set(key, value); });
    var url = root.dataset.url + "?" + queryText(q);
    state.fetched = Date.now();
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 400 && q.toString() !== "objective=score") {
          // A brush or objective the server refuses (a stale link): draw without them.
          state.brush = {}; state.objective = "score";
          return fetch(root.dataset.url + "?objective=score", { credentials: "same-origin" }).then(function (again) { return again.json(); });
        }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        state.data = data;
        state.axes = data.axes;
        state.scales = {};
        data.axes.forEach(function (a) { state.scales[a.key] = new Scale(a); });
        // Brushes on axes this answer does not have (another objective's) are left out.
        Object.keys(state.brush).forEach(function (key) { if (!axisByKey(key)) delete state.brush[key]; });
        applyAxesKey();
        document.getElementById("parcoords-note").textContent = data.note;
        clearButton.disabled = !Object.keys(state.brush).length;
        showCount(data.inside, data.total);
        root.classList.toggle("pc-empty", data.drawn === 0);
        drawLegend();
        renderForm();
        describe();
        draw();
        root.dataset.drawn = String(data.drawn);
        // The benchmark times navigation to this mark (bench/parcoords.py).
        if (!performance.getEntriesByName("aupsite:parcoords-drawn").length) performance.mark("aupsite:parcoords-drawn");
        root.dispatchEvent(new CustomEvent("aupsite:parcoords-drawn", { bubbles: true }));
      })
      .catch(function () {
        document.getElementById("parcoords-note").textContent = "The parallel coordinates could not be loaded; reload the page to try again.";
      });
  }

  document.addEventListener("aupsite:objective", function (e) {
    var key = e.detail && e.detail.key;
    if (!key || key === state.objective) return;
    state.objective = String(key);
    // A brush on the previous objective's axis goes with it.
    var dropped = false;
    Object.keys(state.brush).forEach(function (k) { if (k.charAt(0) === "@" && k.charAt(1) !== "@") { delete state.brush[k]; dropped = true; } });
    load().then(function () { if (dropped) commit(); });
  });

  window.addEventListener("resize", schedule);

  // While the experiment runs, the lines follow its new jobs on the page's clock, at
  // most every 10 s (the summary's answers; its 286 at the end is the last tick).
  if (root.dataset.clock) {
    document.body.addEventListener("htmx:afterRequest", function (e) {
      if (!e.detail.elt || e.detail.elt.id !== root.dataset.clock) return;
      if (Date.now() - state.fetched > 10000 || e.detail.xhr.status === 286) load();
    });
  }

  readURL();
  load();
}());
