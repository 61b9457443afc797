"""Chart data for the dashboard and the API: pure functions, no database, no Django.

The database does the first, coarse reduction (tracking.models: per-bucket first, last,
min and max rows of the selected jobs only, so a 1,000-step curve reaches Python as a
few hundred rows at most); these functions shape what is left into what the browser
draws. Points are ``(x, y)`` pairs with ``y`` a finite float or ``None``: ``None`` is a
gap (NaN, an infinity or a text score) and is drawn as a break in the line, never as a
value.

Every shaping step lives here, and only here: the views (tracking/views.py,
tracking/api/reads.py) read rows with the QuerySet methods and hand them over, so the
data flows one way, QuerySets -> charts -> views, and nothing here reads the database.
"""

import json
import math

from tracking.scores import decode_score

# Points per curve sent to the browser. The default view draws the best ~20 jobs at
# CURVE_BUDGET points each; "show all" draws at most MAX_CURVES_ALL curves at the
# tighter ALL_CURVE_BUDGET, so a response stays around 10,000 points whatever the size
# of the experiment.
CURVE_BUDGET = 200
ALL_CURVE_BUDGET = 50
# Jobs drawn in the optimization-history and hyperparameter charts; above this only the
# extremes of as many buckets of jobs are (see HISTORY_BUCKETS, bucket_extremes).
HISTORY_BUDGET = 1000
HISTORY_BUCKETS = 250


def finite_or_none(value):
    """A chart's y value: the finite float, or None (a gap) for anything else."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def lttb(points, budget):
    """Largest-Triangle-Three-Buckets: at most `budget` of `points`, keeping the shape.

    Steinarsson's algorithm: the first and the last point are always kept; every bucket
    in between contributes the point that forms the largest triangle with the point kept
    before it and the mean of the next bucket, so peaks and dips survive. `points` are
    (x, y) with finite y, sorted by x. O(len(points)).
    """
    count = len(points)
    if budget >= count or count <= 2:
        return list(points)
    if budget < 3:
        return [points[0], points[-1]][:max(budget, 0)]
    kept = [points[0]]
    every = (count - 2) / (budget - 2)
    previous = 0
    for bucket in range(budget - 2):
        start = int(math.floor(bucket * every)) + 1
        end = int(math.floor((bucket + 1) * every)) + 1
        next_start = end
        next_end = min(int(math.floor((bucket + 2) * every)) + 1, count)
        if next_start >= count - 1 or bucket == budget - 3:
            next_start, next_end = count - 1, count
        span = points[next_start:next_end]
        mean_x = sum(p[0] for p in span) / len(span)
        mean_y = sum(p[1] for p in span) / len(span)
        ax, ay = points[previous]
        best_area, best_index = -1.0, start
        for index in range(start, min(end, count - 1)):
            x, y = points[index]
            area = abs((ax - mean_x) * (y - ay) - (ax - x) * (mean_y - ay))
            if area > best_area:
                best_area, best_index = area, index
        kept.append(points[best_index])
        previous = best_index
    kept.append(points[-1])
    return kept


def downsample(points, budget):
    """At most `budget` points of a curve, keeping its shape, its gaps and both ends.

    `points` are (x, y) sorted by x; y None is a gap. Each run of gaps becomes one gap
    marker at its first x (so the line breaks there); at most a quarter of the budget
    goes to gap markers, the rest to LTTB over each finite segment in proportion to its
    length. The first and last points are always kept, gap or not.
    """
    points = list(points)
    if len(points) <= budget:
        return points
    if budget < 2:
        return points[-1:] if budget == 1 else []
    # Split into finite segments and the gap markers between them.
    segments, gaps, current = [], [], []
    for index, point in enumerate(points):
        if point[1] is None:
            if current:
                segments.append(current)
                current = []
            if index == 0 or points[index - 1][1] is not None:
                gaps.append(point)
        else:
            current.append(point)
    if current:
        segments.append(current)
    gap_budget = min(len(gaps), budget // 4)
    if gap_budget < len(gaps):
        # Keep evenly spread gap markers, always the first and the last.
        step = (len(gaps) - 1) / max(gap_budget - 1, 1)
        gaps = [gaps[round(i * step)] for i in range(gap_budget)] if gap_budget > 1 else gaps[-1:]
    first, last = points[0], points[-1]
    finite_budget = max(budget - len(gaps) - 2, 1)
    finite_total = sum(len(segment) for segment in segments)
    kept = []
    if finite_total:
        # A segment gets its share of the budget, at least its two ends when it can.
        shares = [max(2, math.floor(finite_budget * len(segment) / finite_total)) for segment in segments]
        while sum(shares) > finite_budget and max(shares) > 1:
            shares[shares.index(max(shares))] -= 1
        if sum(shares) > finite_budget:
            # More segments than points to spend: keep the ends of the longest ones.
            order = sorted(range(len(segments)), key=lambda i: -len(segments[i]))
            shares = [0] * len(segments)
            for i in order[:finite_budget]:
                shares[i] = 1
        for segment, share in zip(segments, shares):
            if share == 1:
                kept.append(segment[-1])
            elif share > 1:
                kept.extend(lttb(segment, share))
    # Both ends are always there (the last point is "now"); the two slots reserved for
    # them above keep this within the budget, and the loop is the guard.
    result = sorted(set(kept) | set(gaps) | {first, last}, key=lambda point: point[0])
    while len(result) > budget:
        result.pop(len(result) // 2)
    return result


def bucket_extremes(points, buckets):
    """The first, last, lowest and highest point of each of `buckets` runs of x.

    `points` are (x, y) sorted by x, y finite. The same M4 reduction as
    tracking.models.extremes_per_bucket, for a set small enough to read whole (an
    experiment's final scores): cheaper here than four window functions in SQLite.
    """
    points = list(points)
    if not points:
        return []
    first_x = points[0][0]
    width = math.ceil((points[-1][0] - first_x + 1) / max(int(buckets), 1))
    kept, bucket, members = [], None, []

    def close(members):
        kept.extend(
            {members[0], members[-1], min(members, key=lambda p: (p[1], p[0])), max(members, key=lambda p: (p[1], -p[0]))}
        )

    for point in points:
        index = (point[0] - first_x) // width
        if index != bucket and members:
            close(members)
            members = []
        bucket = index
        members.append(point)
    close(members)
    return sorted(kept)


def best_so_far(points, maximize=True):
    """The best-so-far line of (x, y) points in x order: the record-setting points only.

    Only finite y count: gaps (NaN, inf, text) never become the best. The line is a step
    function, so its change points plus the last x are all a chart needs; the last
    point repeats the final best at the last x so the line reaches the end.
    """
    line = []
    best = None
    last_x = None
    for x, y in points:
        last_x = x
        if y is None:
            continue
        if best is None or (y > best if maximize else y < best):
            best = y
            line.append((x, y))
    if line and last_x is not None and line[-1][0] != last_x:
        line.append((last_x, best))
    return line


def compact(value):
    """A float with 7 significant digits: more than any chart resolves, and JSON about
    half the size of a full repr. Ints (steps, ids) and None pass through."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.7g}")
    return value


def columns(points):
    """(x, y) pairs as uPlot's columns: [[x, ...], [y, ...]], numbers compacted."""
    return [[compact(x) for x, _ in points], [compact(y) for _, y in points]]


def eta_seconds(elapsed_seconds, done, planned):
    """Seconds left for an experiment at its throughput so far, or None when unknown.

    Throughput (jobs done per second of wall time since the start) already includes
    the parallelism of the executor, so no resource count is needed. Unknown without a
    planned number of jobs, before the first job is done, or once all planned are done.
    """
    if not planned or done <= 0 or elapsed_seconds <= 0 or done >= planned:
        return None
    return (planned - done) * elapsed_seconds / done


def declared_parameters(parameter_config):
    """{name: entry} of the dict entries of an experiment's ``parameter_config``."""
    declared = {}
    if isinstance(parameter_config, list):
        for entry in parameter_config:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                declared.setdefault(entry["name"], entry)
    return declared


def declares_log(entry):
    """Whether a parameter_config entry asks for a log scale: ``"log": true`` (as the
    demo's learning rate) or ``"scale": "log"``."""
    if not isinstance(entry, dict):
        return False
    scale = entry.get("scale")
    return entry.get("log") is True or (isinstance(scale, str) and scale.strip().lower() == "log")


def declared_choices(entry):
    """The categories a parameter_config entry declares, as labels, in its order: its
    ``choices`` or ``values``, or its ``range`` when that lists anything but two numbers
    or its type says it is a choice. [] when it declares none."""
    if not isinstance(entry, dict):
        return []
    for key in ("choices", "values"):
        if isinstance(entry.get(key), list):
            return _unique_labels(entry[key])
    listed = entry.get("range")
    if not isinstance(listed, list):
        return []
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in listed)
    kind = str(entry.get("type", "")).lower()
    if kind in ("choice", "categorical", "category") or not numbers:
        return _unique_labels(listed)
    return []


def _unique_labels(values):
    labels = []
    for value in values:
        label = display_value(value)
        if label not in labels:
            labels.append(label)
    return labels


def parameter_axes(parameter_config, configs, limit=12):
    """The hyperparameters to chart: [(name, kind, categories)], kind 'number' or 'category'.

    Names come from the experiment's ``parameter_config`` when it lists them (in its
    order), else from the keys of the job configs in order of first appearance; at most
    `limit`. A parameter is a number when every value seen is a number (bools are
    categories), else a category. A category's values come in the order its
    parameter_config entry declares them (declared_choices), then those it does not
    declare in order of first appearance.
    """
    declared = declared_parameters(parameter_config)
    names = list(declared)
    if not names:
        for config in configs:
            for key in config if isinstance(config, dict) else ():
                if key not in names:
                    names.append(key)
    axes = []
    for name in names[:limit]:
        values = [config.get(name) for config in configs if isinstance(config, dict) and name in config]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            axes.append((name, "number", []))
        else:
            categories = declared_choices(declared.get(name))
            for value in values:
                label = display_value(value)
                if label not in categories:
                    categories.append(label)
            axes.append((name, "category", categories))
    return axes


# A log axis for a parameter not declared log-scaled when its values span this factor.
LOG_SPAN = 100


def axis_scale(kind, values, declared_log):
    """'log' or 'linear' for a parameter's axis: a number declared log-scaled
    (declares_log) is drawn on a log axis whatever its span, one not declared when its
    values span LOG_SPAN (two decades) or more; either only when every value is above 0
    (a log axis cannot place the others)."""
    numbers = [v for v in values if v is not None]
    if kind != "number" or not numbers or min(numbers) <= 0:
        return "linear"
    if declared_log:
        return "log"
    return "log" if max(numbers) / min(numbers) >= LOG_SPAN else "linear"


def display_value(value):
    """A config value as a short label: numbers compact, everything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)):
        return str(value)
    return str(value)


def parameter_series(axes, jobs):
    """Per parameter, columns [[x...], [score...], [job id...], [job number...]] for a
    scatter (uPlot draws the first two; the id opens the job, the number names it).

    `jobs` are (job id, job number, config, score) with a finite score. A category's x
    is its index in the axis' categories. Jobs missing the parameter are left out of
    that chart.
    """
    series = {}
    for name, kind, categories in axes:
        xs, ys, ids, numbers = [], [], [], []
        for jid, number, config, score in jobs:
            if not isinstance(config, dict) or name not in config:
                continue
            value = config[name]
            if kind == "number":
                x = finite_or_none(value)
                if x is None:
                    continue
            else:
                x = categories.index(display_value(value))
            xs.append(compact(x))
            ys.append(compact(score))
            ids.append(jid)
            numbers.append(number)
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        series[name] = [[column[i] for i in order] for column in (xs, ys, ids, numbers)]
    return series


# -- a set of curves: the dashboard's charts and the API's /curves/ ------------------------


def curves(rows, budget):
    """The one shaper of a set of curves: {key: [(x, y)]}, at most `budget` points each.

    `rows` are (key, x, y) as CurveQuerySet.curve_rows reads them, in key then x order,
    y the stored number or None; a y that is not a finite number becomes a gap, and
    each curve is downsampled (downsample) keeping its shape, its gaps and both ends.
    The dashboard wraps the result in uPlot columns (curve_columns), the API in its
    own steps and scores lists (tracking/api/reads.py).
    """
    grouped = {}
    for key, x, y in rows:
        grouped.setdefault(key, []).append((x, finite_or_none(y)))
    return {key: downsample(points, budget) for key, points in grouped.items()}


def curve_columns(shaped):
    """The dashboard's envelope of `curves`: {"<job id>": [[x, ...], [y, ...]]}."""
    return {str(key): columns(points) for key, points in shaped.items()}


# -- the experiment page --------------------------------------------------------------------


def series_options(labels):
    """The curves chart's series menu: the score, then each label. `labels` are
    (label order, name) pairs in order."""
    return [{"value": "score", "name": "score"}] + [{"value": str(order), "name": name} for order, name in labels]


def curves_note(show_all, shown, total, budget, best):
    """The line under the curves chart saying what is drawn of `total` jobs: `shown`
    curves of `budget` points, the `best` best by default."""
    if show_all and total > shown:
        return f"Showing the {shown} best of {total:,} jobs, {budget} points per curve."
    if show_all:
        return f"All {total:,} jobs, {budget} points per curve."
    if total > shown:
        return f"Best {best} jobs, running jobs and your selection: {shown} of {total:,}."
    return ""


def curve_jobs(shown, selected):
    """The drawn jobs, in order, as the page lists them: `shown` are (id, score,
    score_text, status, number) rows (JobQuerySet.curve_set), `selected` the user's
    picks. A legend, a tooltip and a table name a job by its number; its id opens it."""
    return [
        {
            "id": jid,
            "number": number,
            "score": finite_or_none(score),
            "score_text": None if text is None else str(decode_score(score, text)),
            "status": status,
            "selected": jid in selected,
        }
        for jid, score, text, status, number in shown
    ]


def history_sample(scores, buckets):
    """The ids of the jobs the history draws when there are too many to draw them all:
    the first, last, best and worst of each of `buckets` runs (bucket_extremes).
    `scores` are (id, finite score) in id order."""
    return [jid for jid, _ in bucket_extremes(scores, buckets)]


def slice_axes(parameter_config, axes, series):
    """The slice plots' axes as the page draws them: each of `axes` (parameter_axes)
    with its ``scale`` (axis_scale, from the values drawn in `series`, parameter_series)."""
    declared = declared_parameters(parameter_config)
    return [
        {
            "name": name,
            "kind": kind,
            "categories": categories,
            "scale": axis_scale(kind, series.get(name, [[]])[0], declares_log(declared.get(name))),
        }
        for name, kind, categories in axes
    ]


# The contour's grid: at most this many cells a side, whatever the number of jobs.
CONTOUR_CELLS = 30


def contour_pair(names, cx=None, cy=None):
    """The two parameters the contour plots, (x, y): `cx` and `cy` when they name two
    different parameters of `names`, else the first ones of `names` in their place;
    None when there are fewer than two parameters."""
    if len(names) < 2:
        return None
    x = cx if cx in names else names[0]
    y = cy if cy in names and cy != x else next(name for name in names if name != x)
    return x, y


def _contour_axis(axis, values, cells):
    """One side of the contour's grid: (what the page draws, a function from a value
    as parameter_series places it to its cell index or None). Categories get a cell
    each (the first `cells`); numbers `cells` equal cells at most (fewer when fewer
    distinct values), equal in log space on a log axis."""
    if axis["kind"] == "category":
        labels = axis["categories"][:cells]
        return (
            {"name": axis["name"], "kind": "category", "scale": "linear", "categories": labels},
            lambda x: x if x < len(labels) else None,
        )
    log = axis["scale"] == "log"
    points = [math.log10(v) for v in values] if log else list(values)
    low, high = (min(points), max(points)) if points else (0.0, 0.0)
    count = 1 if high <= low else min(cells, len(set(points)))
    back = (lambda t: 10**t) if log else (lambda t: t)
    edges = [compact(back(low + (high - low) * k / count)) for k in range(count + 1)]
    if high <= low:
        return {"name": axis["name"], "kind": "number", "scale": axis["scale"], "edges": edges}, lambda x: 0
    factor, last = count / (high - low), count - 1
    if log:
        def index(x):
            return min(int((math.log10(x) - low) * factor), last)
    else:
        def index(x):
            return min(int((x - low) * factor), last)
    return {"name": axis["name"], "kind": "number", "scale": axis["scale"], "edges": edges}, index


def contour(axes, series, pair, maximize, total=None, cells=CONTOUR_CELLS):
    """The contour (a heat map) of the objective over two parameters, binned here.

    `axes` are slice_axes, `series` the slices' columns (parameter_series: each
    parameter's values as placed, the objective's values and the job ids), `pair` the
    (x, y) parameter names (contour_pair), `total` the jobs with a value (for what is
    left out). Each axis is cut into at most `cells` cells (_contour_axis), and each
    cell that holds jobs gets their count, the best value in the objective's direction
    (`maximize`) and the mean: ``cells`` is [[x index, y index, count, best, mean]], at
    most cells x cells entries whatever the number of jobs. ``range`` is the lowest and
    highest best of a cell (the colour scale's ends); ``jobs`` counts the jobs placed,
    ``left_out`` those without both parameters (or past the first `cells`
    categories). None without a pair.
    """
    if pair is None:
        return None
    by_name = {axis["name"]: axis for axis in axes}
    xs, values, ids = series[pair[0]][:3]
    ys = dict(zip(series[pair[1]][2], series[pair[1]][0]))
    placed = [(x, ys[jid], value) for x, value, jid in zip(xs, values, ids) if jid in ys and value is not None]
    sides = [_contour_axis(by_name[name], [point[k] for point in placed], cells) for k, name in enumerate(pair)]
    place_x, place_y = sides[0][1], sides[1][1]
    better = max if maximize else min
    grid = {}
    kept = 0
    for x, y, value in placed:
        i, j = place_x(x), place_y(y)
        if i is None or j is None:
            continue
        kept += 1
        cell = grid.get((i, j))
        if cell is None:
            grid[(i, j)] = [1, value, value]
        else:
            cell[0] += 1
            cell[1] = better(cell[1], value)
            cell[2] += value
    rows = [[i, j, n, compact(best), compact(sum_ / n)] for (i, j), (n, best, sum_) in sorted(grid.items())]
    bests = [row[3] for row in rows]
    return {
        "x": sides[0][0],
        "y": sides[1][0],
        "cells": rows,
        "range": [min(bests), max(bests)] if bests else None,
        "maximize": bool(maximize),
        "jobs": kept,
        "left_out": (len(ids) if total is None else total) - kept,
    }


def history_payload(history, maximize, parameter_config, name="score", pair=(None, None)):
    """The optimization-history, slice and contour charts from `history` (the rows and
    counts tracking.views.history reads, whose values are the objective's, called
    `name`, better when higher if `maximize`): each job's value by job number, the
    best so far, the job ids (``jids``, parallel to the points: a click opens the job),
    a note on what is left out, one slice plot per hyperparameter and the contour of
    the two parameters `pair` names (contour_pair chooses when it names none)."""
    rows = history["rows"]
    points = [(number, finite_or_none(value)) for _, number, value, _ in rows]
    best = best_so_far(points, maximize)
    jobs = [(jid, number, config, value) for jid, number, value, config in rows]
    axes = parameter_axes(parameter_config, [config for _, _, config, _ in jobs])
    series = parameter_series(axes, jobs)
    drawn = slice_axes(parameter_config, axes, series)
    drawn_names = [axis["name"] for axis in drawn if series[axis["name"]][0]]
    notes = []
    if history["sampled"]:
        notes.append(
            f"{history['total']:,} jobs: drawn are the first, last, best and worst of each of "
            f"{HISTORY_BUCKETS} runs of jobs ({len(rows)} points)."
        )
    if history["non_finite"]:
        notes.append(f"Not drawn: {history['non_finite']} job(s) with no finite {name} (running, NaN, inf or text).")
    return {
        "points": columns(points),
        "jids": [jid for jid, _, _, _ in rows],
        "best": columns(best),
        "note": " ".join(notes),
        "params": {"axes": drawn, "series": series},
        "contour": contour(drawn, series, contour_pair(drawn_names, *pair), maximize, total=len(jobs)),
        # Above HISTORY_BUDGET jobs the contour bins the history's sample, and says so.
        "contour_note": (
            f"Binned from the {len(rows):,} jobs the history draws of {history['total']:,}." if history["sampled"] else ""
        ),
    }


def experiment_payload(
    *, ended, maximize, parameter_config, series, labels, cursor, show_all, shown, selected, shaped, budget,
    history, best, limits, objective=None, objectives=(), pair=(None, None)
):
    """The experiment page's chart JSON (charts.json, and the page's first draw).

    `series` is the drawn series' value ("score" or a label order as text), `labels`
    (label order, name) pairs, `shown` the curve_set rows, `shaped` the curves sent
    (curves), `history` what tracking.views.history read (without ``rows`` when the
    client's version is current: the history is then None), `best` the number of best
    jobs drawn by default, `limits` what the page keeps to (tracking.views.PAGE_LIMITS).
    `objective` (tracking.objectives.Objective) is what the history, slice and contour
    charts rank by, `objectives` the page's choice of them, `pair` the contour's
    parameters asked for (cx, cy). `maximize` stays the score's direction (the curves'
    order).
    """
    names = {str(order): name for order, name in labels}
    ranks_higher = maximize if objective is None else objective.maximize
    return {
        "ended": ended,
        "maximize": maximize,
        "objective": objective.as_dict() if objective is not None else None,
        "objective_maximize": ranks_higher,
        "objectives": [choice.as_dict() for choice in objectives],
        "series": {"value": series, "name": names.get(series, "score"), "options": series_options(labels)},
        "cursor": cursor,
        "show_all": bool(show_all),
        "curves": {
            "jobs": curve_jobs(shown, selected),
            "data": curve_columns(shaped),
            "budget": budget,
            "total_jobs": history["total"],
            "note": curves_note(show_all, len(shown), history["total"], budget, best),
        },
        "history": (
            history_payload(
                history, ranks_higher, parameter_config, name=objective.name if objective else "score", pair=pair
            )
            if "rows" in history
            else None
        ),
        "history_version": history["version"],
        "limits": limits,
    }


# -- the job page ---------------------------------------------------------------------------


def job_series(score_curve, labeled, names):
    """The job page's chart series: the score curve, then each labeled curve in label
    order. `labeled` is {label order: points}, `names` {label order: name}."""
    series = [{"name": "score", "data": columns(score_curve)}]
    for order, points in sorted(labeled.items()):
        series.append({"name": names.get(order, f"label {order}"), "data": columns(points)})
    return series


# -- timelines: attempts on the job page and the resources page -----------------------------

# The narrowest bar drawn, in percent of the timeline: an attempt of a second in a day
# of history is still something to point at.
MIN_BAR_WIDTH = 0.4


def timeline_bars(intervals, origin, finish):
    """Where each (start, end) interval sits on a timeline from `origin` to `finish`:
    [(x, width)] in percent of the timeline, rounded to 3 decimals, each width at least
    MIN_BAR_WIDTH. Times are datetimes (or any values whose differences have
    ``total_seconds``); an empty span draws as if it lasted a microsecond."""
    span = max((finish - origin).total_seconds(), 1e-6)
    return [
        (
            round(100 * (start - origin).total_seconds() / span, 3),
            max(round(100 * (end - start).total_seconds() / span, 3), MIN_BAR_WIDTH),
        )
        for start, end in intervals
    ]


# -- compare (issue 13, item 5): jobs side by side, experiments' best so far overlaid ---------
#
# The shaping of the two comparison pages (tracking/compare.py) and their API. As above:
# rows in, plain data out, no database.


def _same(values):
    """Whether `values` are all the same JSON value. Compared as canonical JSON, so
    that 1 and True, or 1 and 1.0 written as different types, are told apart as a person
    reading the configs would."""
    seen = {json.dumps(value, sort_keys=True, default=str) for value in values}
    return len(seen) <= 1


def config_diff(configs, names=(), limit=50):
    """Configurations side by side: ``(rows, hidden)``.

    `configs` are the compared objects' configs (dicts; anything else counts as empty),
    `names` the keys to list first (e.g. the declared parameters, in their order), then
    every other key in order of first appearance. Each row is ``{"name", "cells":
    [{"value", "absent"}], "differs"}``: a key absent from a config is a cell with
    ``absent`` (and a difference). At most `limit` rows (None: all); `hidden` says how
    many more keys there are."""
    configs = [config if isinstance(config, dict) else {} for config in configs]
    keys = []
    for name in names:
        if isinstance(name, str) and name not in keys and any(name in config for config in configs):
            keys.append(name)
    for config in configs:
        for key in config:
            if key not in keys:
                keys.append(key)
    limit = len(keys) if limit is None else limit
    rows = []
    for key in keys[:limit]:
        cells = [{"value": config.get(key), "absent": key not in config} for config in configs]
        present = [cell["value"] for cell in cells if not cell["absent"]]
        differs = any(cell["absent"] for cell in cells) or not _same(present)
        rows.append({"name": key, "cells": cells, "differs": differs})
    return rows, max(len(keys) - limit, 0)


# An experiment's settings compared first, in this order; then its parameters, then the rest.
EXPERIMENT_SETTINGS = ("proposer", "target", "n_samples", "script", "workingdir", "resource", "n_parallel")


def experiment_config_entries(config):
    """An experiment's config flattened for config_diff: its settings, then one entry per
    declared parameter (``parameter <name>``: its type, range and options), then every
    other key but the name (which heads the page's columns already)."""
    config = config if isinstance(config, dict) else {}
    entries = {}
    for key in EXPERIMENT_SETTINGS:
        if key in config:
            entries[key] = config[key]
    parameters = config.get("parameter_config")
    if isinstance(parameters, list):
        for index, entry in enumerate(parameters):
            if isinstance(entry, dict):
                name = entry.get("name") if isinstance(entry.get("name"), str) else str(index)
                entries[f"parameter {name}"] = {k: v for k, v in entry.items() if k != "name"}
            else:
                entries[f"parameter {index}"] = entry
    elif "parameter_config" in config:
        entries["parameter_config"] = parameters
    for key, value in config.items():
        if key not in entries and key not in ("name", "parameter_config"):
            entries[key] = value
    return entries


def compare_series(score, labeled, job_ids, labels):
    """The job comparison's chart series: the score, then each label in order, each
    ``{"value", "name", "curves": {"<job id>": [[x...], [y...]]}}`` holding the compared
    jobs' curves in `job_ids` order (a job without points is left out). `score` is
    {job id: points} (curves), `labeled` {(label order, job id): points}, `labels`
    (label order, name) pairs."""
    series = [{"value": "score", "name": "score", "curves": _curves_of(score, job_ids)}]
    for order, name in labels:
        mine = {jid: points for (label_order, jid), points in labeled.items() if label_order == order}
        series.append({"value": str(order), "name": name, "curves": _curves_of(mine, job_ids)})
    return series


def _curves_of(shaped, job_ids):
    return {str(jid): columns(shaped[jid]) for jid in job_ids if shaped.get(jid)}


def best_so_far_lines(rows, maximize, origin):
    """An experiment's best-so-far lines for the experiments comparison: ``(by_index,
    by_time)`` in uPlot columns.

    `rows` are (job number, score or None, end time or None) in number order. By index,
    x is the job's number; by time, x is the seconds from `origin` (the experiment's
    start) to the job's end, in end-time order (jobs still running, without an end, are
    not on it; jobs that ended at the same moment are one point, the best of them).
    Only the record-setting points and the last are kept (best_so_far): a step line
    changes only there, so the bytes grow with the improvements, never with the jobs.
    O(n log n) for n rows; the seconds are computed for the kept points only.
    """
    points = [(number, finite_or_none(score)) for number, score, _ in rows]
    by_index = best_so_far(points, maximize)
    by_time = []
    if origin is not None:
        ended = sorted(
            ((end, y) for (_, _, end), (_, y) in zip(rows, points) if end is not None), key=lambda point: point[0]
        )
        kept = best_so_far(ended, maximize)
        kept = [point for index, point in enumerate(kept) if index + 1 == len(kept) or kept[index + 1][0] != point[0]]
        by_time = [(max((end - origin).total_seconds(), 0.0), y) for end, y in kept]
    return columns(by_index), columns(by_time)


def compare_curve_table(series, numbers):
    """The job comparison's curves as a table (the charts' text alternative): per series
    and job, ``{"series", "job", "points", "first", "last", "last_value", "low",
    "high"}``. `series` is compare_series' answer, `numbers` {job id: job number}."""
    rows = []
    for entry in series:
        for key, (xs, ys) in entry["curves"].items():
            finite = [y for y in ys if y is not None]
            rows.append(
                {
                    "series": entry["name"],
                    "job": numbers.get(int(key), key),
                    "points": len(xs),
                    "first": xs[0] if xs else None,
                    "last": xs[-1] if xs else None,
                    "last_value": ys[-1] if ys else None,
                    "low": min(finite) if finite else None,
                    "high": max(finite) if finite else None,
                }
            )
    return rows
