"""Parallel coordinates: which jobs are drawn and on which axes. Pure functions, no database.

tracking.views.experiment_parcoords reads the rows (QuerySet methods) and hands them
here; the browser (aupsite/static/aupsite/parcoords.js) draws what comes back on a canvas.

What is drawn is bounded whatever the experiment's size: every job with a value of the
objective up to DRAW_BUDGET; beyond, the BEST best jobs in the objective's direction
plus a sample of the others stratified by their objective value (evenly spaced in rank,
so every part of the range keeps its share, the worst job included). The payload says
so. Values travel as columns (one array per axis), rounded to what a chart resolves.
"""

import math

from tracking.brush import OBJECTIVE_MARK, category_text

DRAW_BUDGET = 2000
BEST = 200
# Hyperparameter axes drawn at most (then the objective's): more are unreadable.
MAX_AXES = 24
# The rows of the table alternative under the chart.
TABLE_ROWS = 50
# A numeric parameter whose positive values span this ratio gets a log axis.
LOG_SPAN = 100.0


def round_value(value, digits=5):
    """A float as JSON needs it for drawing: `digits` significant digits (ints pass)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.{digits}g}")
    return None


def sample(scored, maximize, budget=DRAW_BUDGET, best=BEST):
    """The ids to draw of `scored` [(id, finite value)]: all of them up to `budget`; else
    the `best` best in the direction (ties: lowest id) and `budget - best` of the rest
    evenly spaced in rank by value (the last one always: the worst job is drawn).
    Returns (ids, sampled)."""
    if len(scored) <= budget:
        return [jid for jid, _ in scored], False
    ranked = sorted(scored, key=lambda row: ((-row[1] if maximize else row[1]), row[0]))
    kept = [jid for jid, _ in ranked[:best]]
    rest = ranked[best:]
    room = budget - best
    if room >= 1 and rest:
        step = (len(rest) - 1) / max(room - 1, 1)
        picks = sorted({round(i * step) for i in range(room)}) if room > 1 else [len(rest) - 1]
        kept.extend(rest[i][0] for i in picks)
    return kept, True


def _declared(parameter_config):
    """{name: entry} of the declared parameters, in order."""
    declared = {}
    for entry in parameter_config if isinstance(parameter_config, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in declared:
            declared[entry["name"]] = entry
    return declared


def _declared_log(entry):
    if not isinstance(entry, dict):
        return False
    if entry.get("log") is True or entry.get("log_scale") is True:
        return True
    return str(entry.get("scale", "")).lower() in ("log", "log10") or str(entry.get("type", "")).lower() in (
        "loguniform", "log", "logfloat", "log_uniform"
    )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _declared_choices(entry):
    """The declared categories of a choice parameter, in order, else None."""
    if not isinstance(entry, dict):
        return None
    kind = str(entry.get("type", "")).lower()
    for field in ("choices", "values"):
        if isinstance(entry.get(field), list):
            return entry[field]
    if kind in ("choice", "categorical", "category", "cat") and isinstance(entry.get("range"), list):
        return entry["range"]
    return None


def axes(parameter_config, configs, limit=MAX_AXES):
    """The hyperparameter axes: [{key, name, kind, log, min, max | categories}].

    Names come from ``parameter_config`` when it declares any (in its order), else from
    the configs' keys in order of first appearance; at most `limit`. A declared choice
    is categorical with its declared order (values seen but not declared follow); an
    axis is numeric when every value seen is a number (bools are categories), with a
    log scale when declared so, or when its values are positive and span two decades;
    else categorical, its categories sorted. Numeric bounds cover the declared range
    and every value seen.
    """
    declared = _declared(parameter_config)
    names = list(declared)
    if not names:
        for config in configs:
            for key in config if isinstance(config, dict) else ():
                if isinstance(key, str) and key not in names:
                    names.append(key)
    out = []
    for name in names[:limit]:
        entry = declared.get(name)
        values = [config[name] for config in configs if isinstance(config, dict) and name in config]
        choices = _declared_choices(entry)
        numeric = choices is None and all(_is_number(v) for v in values)
        key = OBJECTIVE_MARK + name if name.startswith(OBJECTIVE_MARK) else name
        if numeric:
            seen = [float(v) for v in values]
            bounds = list(seen)
            rng = entry.get("range") if isinstance(entry, dict) else None
            if isinstance(rng, list) and len(rng) == 2 and all(_is_number(v) for v in rng):
                bounds.extend(float(v) for v in rng)
            low, high = (min(bounds), max(bounds)) if bounds else (0.0, 1.0)
            positive = low > 0
            log = positive and (_declared_log(entry) or (high / low >= LOG_SPAN))
            out.append({"key": key, "name": name, "kind": "number", "log": bool(log),
                        "min": round_value(low, 7), "max": round_value(high, 7)})
        else:
            categories = [category_text(v) for v in choices] if choices is not None else []
            categories = list(dict.fromkeys(categories))
            extra = sorted(
                {category_text(v) for v in values} - set(categories),
                key=lambda text: (0, float(text), "") if _looks_number(text) else (1, 0.0, text),
            )
            out.append({"key": key, "name": name, "kind": "category", "log": False, "categories": categories + extra})
    return out


def _looks_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def columns(param_axes, rows):
    """Per axis, the drawn value of each row: a rounded number, or a category's index;
    None when the job lacks it. `rows` are (id, number, config, objective value)."""
    cols = []
    for axis in param_axes:
        name = axis["name"]
        col = []
        if axis["kind"] == "number":
            for _, _, config, _ in rows:
                value = config.get(name) if isinstance(config, dict) else None
                col.append(round_value(float(value)) if _is_number(value) else None)
        else:
            index = {text: i for i, text in enumerate(axis["categories"])}
            for _, _, config, _ in rows:
                if isinstance(config, dict) and name in config:
                    col.append(index.get(category_text(config[name])))
                else:
                    col.append(None)
        cols.append(col)
    return cols


def payload(*, objective, parameter_config, rows, counts, sampled, brush, options):
    """The parallel-coordinates JSON.

    `objective` is a tracking.objectives.Objective; `rows` [(id, number, config, value)]
    of the drawn jobs (value finite); `counts` {total, with_value, inside}: jobs of the
    experiment, those with a value of the objective, those inside `brush` (a
    tracking.brush.Brush); `sampled` whether `rows` is a sample; `options` the
    objectives one may colour by ([Objective]).
    """
    param_axes = axes(parameter_config, [config for _, _, config, _ in rows])
    values = [value for _, _, _, value in rows]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    objective_axis = {
        "key": OBJECTIVE_MARK + objective.key,
        "name": objective.name,
        "kind": "objective",
        "log": False,
        "min": round_value(low, 7),
        "max": round_value(high, 7),
        "maximize": objective.maximize,
    }
    drawn = len(rows)
    if sampled:
        note = (
            f"Drawn: the best {BEST:,} jobs by {objective.name} and {drawn - BEST:,} more sampled evenly across its "
            f"range, {drawn:,} of the {counts['with_value']:,} jobs with a value ({counts['total']:,} jobs in all)."
        )
    else:
        note = f"Drawn: all {drawn:,} jobs with a value of {objective.name} ({counts['total']:,} jobs in all)."
    missing = counts["total"] - counts["with_value"]
    if missing:
        note += f" Not drawn: {missing:,} without one (running, failed, NaN or not reported)."
    return {
        "objective": objective.as_dict(),
        "objectives": [{"key": o.key, "name": o.name} for o in options],
        "axes": [*param_axes, objective_axis],
        "jobs": {
            "id": [jid for jid, _, _, _ in rows],
            "number": [number for _, number, _, _ in rows],
            "values": [*columns(param_axes, rows), [round_value(v, 6) for v in values]],
        },
        "drawn": drawn,
        "sampled": sampled,
        "best": BEST if sampled else drawn,
        "total": counts["total"],
        "with_value": counts["with_value"],
        "inside": counts["inside"],
        "brush": brush.as_list(),
        "note": note,
        "limits": {"table_rows": TABLE_ROWS, "budget": DRAW_BUDGET},
    }
