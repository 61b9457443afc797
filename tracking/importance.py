"""Hyperparameter importance: which hyperparameters the best jobs of an experiment share.

Pure functions against numpy, no database and no Django: tracking/views.py reads the
rows (JobQuerySet.objective_rows) and caches what these return.

The method is PED-ANOVA (Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently
Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023), which Optuna
5 uses by default. For each hyperparameter it compares two distributions of its values:
among the *top* jobs (the best TOP_QUANTILE of the finished jobs, in the objective's
direction) and among *all* the finished jobs. A hyperparameter whose values among the
top jobs look like its values among all jobs does not matter for reaching the top; one
whose top jobs crowd into a narrow region does. The distance is the Pearson divergence

    D = sum over the grid of  p_all(x) * (p_top(x) / p_all(x) - 1) ** 2

(0 when the two agree; larger the more the top jobs concentrate), with each density a
1-D kernel (Parzen) estimate on a grid of GRID_POINTS points between the smallest and
the largest value seen (in log10 space for a log-scaled parameter), and the category
frequencies for a categorical one. Both are smoothed by one pseudo-observation spread
evenly over the grid, so a region no job visited has a small, non-zero density and one
lucky job cannot make a parameter look decisive. It measures single parameters, not
their interactions, and what the search explored, not the whole search space.

Written here, against numpy, rather than taken from Optuna: the method is some eighty
lines, and Optuna would bring a framework (and its storage) for one function.
"""

import math
from dataclasses import dataclass

import numpy as np

from tracking.charts import display_value, parameter_axes

METHOD = "PED-ANOVA"
METHOD_DESCRIPTION = (
    "For each hyperparameter, how differently its values are spread among the top {top} of the finished "
    "jobs than among all of them (the Pearson divergence of the two distributions, each estimated from the "
    "jobs' values). A hyperparameter the top jobs agree on scores high; one where they are spread like all the "
    "jobs scores near zero. It ranks parameters one at a time, within the ranges the search explored."
)
# The best 10% of the jobs are the "top" jobs, and at least MIN_TOP_JOBS of them: with
# fewer, one job's value is the whole top distribution.
TOP_QUANTILE = 0.10
MIN_TOP_JOBS = 2
# Below this many finished jobs with a finite objective, no numbers: at 20 the top 10%
# holds 2 jobs, the least the divergence can say anything from.
MIN_JOBS = 20
# At most this many jobs are read (the newest finished), which bounds the time: at
# 10,000 jobs the method takes about 15 ms and the whole first answer, reading the rows
# included, under 0.3 s (make bench, importance rows). An experiment with more is ranked
# on its newest MAX_JOBS, and the answer says so.
MAX_JOBS = 10_000
# Hyperparameters ranked, in the order of the experiment's parameter_config.
MAX_PARAMETERS = 50
GRID_POINTS = 50
# A numeric parameter whose positive values span this many decades is ranked in log
# space, as one declared log-scaled (``"log": true`` in its parameter_config entry).
LOG_DECADES = 2
# The weight of the uniform pseudo-observation that smooths each density.
PRIOR_WEIGHT = 1.0
# The narrowest kernel, in grid steps: a single value still covers its neighbours.
MIN_BANDWIDTH = 0.5
# Guards the ratio p_top / p_all against a zero density (there is none with the prior).
EPSILON = 1e-12


@dataclass(frozen=True)
class Axis:
    """A hyperparameter as ranked: `kind` "number" or "category"; `log` for a number
    ranked in log10 space."""

    name: str
    kind: str
    log: bool = False


def declared_log(parameter_config):
    """Names of the parameters the experiment's parameter_config declares log-scaled:
    ``"log": true``, or ``"scale": "log"``."""
    names = set()
    for entry in parameter_config if isinstance(parameter_config, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            if entry.get("log") is True or entry.get("scale") == "log":
                names.add(entry["name"])
    return names


def _number(value):
    """`value` as a finite float, or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


_MISSING = object()
# The types a numeric parameter's values have (bool, a subclass of int, is not one).
_NUMBERS = (int, float)


def parameter_names(parameter_config, configs, limit=MAX_PARAMETERS):
    """The hyperparameters' names, as charts.parameter_axes takes them: the experiment's
    parameter_config in its order, else the job configs' keys in order of first
    appearance; at most `limit`."""
    # The declared names alone first (no config read); the configs' keys only without them.
    names = [name for name, _, _ in parameter_axes(parameter_config, [], limit)]
    return names or [name for name, _, _ in parameter_axes(None, configs, limit)]


def columns(parameter_config, configs, limit=MAX_PARAMETERS):
    """[(Axis, values)] per hyperparameter, read from `configs` in one pass each: a
    number when every value present is a number (as charts.parameter_axes decides),
    ranked in log10 space where declared or where its values are positive and span
    LOG_DECADES decades. A number's values are a float array (NaN where a job has none,
    or a value that is not finite); a category's, a list of labels (None where a job has
    none)."""
    logged = declared_log(parameter_config)
    result = []
    for name in parameter_names(parameter_config, configs, limit):
        column = [config.get(name, _MISSING) for config in configs]
        present = [value for value in column if value is not _MISSING]
        if all(type(value) in _NUMBERS for value in present):
            values = np.array([value if value is not _MISSING else math.nan for value in column], dtype=float)
            finite = values[np.isfinite(values)]
            positive = finite.size > 0 and finite.min() > 0
            log = bool(positive and (name in logged or finite.max() / finite.min() >= 10**LOG_DECADES))
            result.append((Axis(name, "number", log), values))
        else:
            labels = [display_value(value) if value is not _MISSING else None for value in column]
            result.append((Axis(name, "category"), labels))
    return result


def axes_for(parameter_config, configs, limit=MAX_PARAMETERS):
    """The hyperparameters to rank, [Axis] (see columns)."""
    return [axis for axis, _ in columns(parameter_config, [c if isinstance(c, dict) else {} for c in configs], limit)]


def top_mask(values, maximize, quantile=TOP_QUANTILE, min_top=MIN_TOP_JOBS):
    """Which of `values` (a 1-D array of finite objective values) are top jobs: the best
    `quantile` of them in the objective's direction (the highest when `maximize`), at
    least `min_top`, and every job tied with the last one in."""
    loss = -values if maximize else values
    n = loss.size
    k = max(min_top, math.ceil(quantile * n))
    k = min(k, n)
    cutoff = np.partition(loss, k - 1)[k - 1]
    return loss <= cutoff


def _smoothed_kde(positions, weights, size):
    """A density over grid points 0..size-1 (summing to 1): a Gaussian kernel per
    observed grid point, weighted by how many jobs fell there, each cut to the grid and
    normalised on it, plus PRIOR_WEIGHT spread evenly. The bandwidth follows Scott's
    rule (1.059 min(sd, IQR / 1.34) n^-1/5), at least MIN_BANDWIDTH grid steps."""
    total = weights.sum()
    uniform = np.full(size, 1.0 / size)
    if total == 0:
        return uniform
    mean = positions @ weights / total
    sd = math.sqrt(((positions - mean) ** 2) @ weights / max(total - 1, 1))
    cumulative = np.cumsum(weights)
    q25 = positions[min(np.searchsorted(cumulative, 0.25 * total), positions.size - 1)]
    q75 = positions[min(np.searchsorted(cumulative, 0.75 * total), positions.size - 1)]
    spread = min(sd, (q75 - q25) / 1.34) if q75 > q25 else sd
    bandwidth = max(1.059 * spread * total ** -0.2, MIN_BANDWIDTH)
    grid = np.arange(size, dtype=float)
    kernels = np.exp(-0.5 * ((grid[None, :] - positions[:, None]) / bandwidth) ** 2)
    kernels /= kernels.sum(axis=1, keepdims=True)
    density = weights @ kernels + PRIOR_WEIGHT * uniform
    return density / (total + PRIOR_WEIGHT)


def _frequencies(counts):
    """Category frequencies with PRIOR_WEIGHT spread evenly over the categories."""
    return (counts + PRIOR_WEIGHT / counts.size) / (counts.sum() + PRIOR_WEIGHT)


def pearson_divergence(p_top, p_all):
    """sum p_all (p_top / p_all - 1)^2 of two densities on the same grid."""
    p_all = p_all + EPSILON
    return float(p_all @ ((p_top + EPSILON) / p_all - 1.0) ** 2)


def _numeric_divergence(values, top, log):
    """The divergence of a numeric parameter: `values` a float array (NaN where a job
    has none), `top` the top-job mask. 0 for a parameter with a single value."""
    keep = np.isfinite(values)
    if log:
        keep &= values > 0
    if keep.sum() < 2 or not top[keep].any():
        return 0.0
    values, top = values[keep], top[keep]
    if log:
        values = np.log10(values)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return 0.0
    integral = not log and high - low + 1 <= GRID_POINTS and bool(np.all(values == np.round(values)))
    size = int(high - low + 1) if integral else GRID_POINTS
    step = (high - low) / (size - 1)
    index = np.clip(np.rint((values - low) / step).astype(np.int64), 0, size - 1)
    all_counts = np.bincount(index, minlength=size).astype(float)
    top_counts = np.bincount(index[top], minlength=size).astype(float)
    return pearson_divergence(_density(top_counts, size), _density(all_counts, size))


def _density(counts, size):
    seen = np.flatnonzero(counts)
    return _smoothed_kde(seen.astype(float), counts[seen], size)


def _categorical_divergence(raw, top):
    """The divergence of a categorical parameter: `raw` its values as labels (None
    where a job has none)."""
    keep = np.array([value is not None for value in raw], dtype=bool)
    if keep.sum() < 2 or not top[keep].any():
        return 0.0
    labels = [value for value in raw if value is not None]
    categories, index = np.unique(np.array(labels, dtype=object).astype(str), return_inverse=True)
    if categories.size < 2:
        return 0.0
    all_counts = np.bincount(index, minlength=categories.size).astype(float)
    top_counts = np.bincount(index[top[keep]], minlength=categories.size).astype(float)
    return pearson_divergence(_frequencies(top_counts), _frequencies(all_counts))


def importance(rows, parameter_config, maximize, total=None):
    """Rank the hyperparameters of `rows`, [(config, objective value)] of finished jobs
    (values not finite are left out), for an objective that is better high when
    `maximize`. `total` is how many such jobs the experiment has, when `rows` holds
    only the newest MAX_JOBS of them.

    Returns a dict: ``method``, ``description``, ``jobs_used``, ``top_jobs``,
    ``quantile``, ``enough`` (False: too few jobs, or nothing to rank, and ``message``
    says why, with no numbers), ``message`` (None, or a note) and ``importances``:
    [{``parameter``, ``kind``, ``log``, ``importance`` (the divergence), ``share`` (of
    the sum of all, summing to 1)}], most important first.
    """
    configs, values = [], []
    for config, value in rows:
        value = _number(value)
        if value is not None:
            configs.append(config if isinstance(config, dict) else {})
            values.append(value)
    jobs = len(values)
    result = {
        "method": METHOD,
        "description": METHOD_DESCRIPTION.format(top=f"{TOP_QUANTILE:.0%}"),
        "jobs_used": jobs,
        "top_jobs": 0,
        "quantile": TOP_QUANTILE,
        "min_jobs": MIN_JOBS,
        "enough": False,
        "message": None,
        "importances": [],
    }
    if jobs < MIN_JOBS:
        result["message"] = (
            f"Importance needs at least {MIN_JOBS} finished jobs with a finite value of the objective, so that "
            f"its top {TOP_QUANTILE:.0%} holds {MIN_TOP_JOBS} or more; this experiment has {jobs}."
        )
        return result
    axes = columns(parameter_config, configs)
    if not axes:
        result["message"] = "The jobs' configurations name no hyperparameter to rank."
        return result
    objective = np.array(values, dtype=float)
    top = top_mask(objective, maximize)
    result["top_jobs"] = int(top.sum())
    if top.all():
        result["message"] = (
            f"All {jobs} jobs tie at the best value of the objective: no job does better than the others."
        )
        return result
    scores = []
    for axis, values in axes:
        if axis.kind == "number":
            divergence = _numeric_divergence(values, top, axis.log)
        else:
            divergence = _categorical_divergence(values, top)
        scores.append((axis, divergence))
    total_divergence = sum(divergence for _, divergence in scores)
    scores.sort(key=lambda item: -item[1])  # stable: ties keep the parameter_config order
    result["importances"] = [
        {
            "parameter": axis.name,
            "kind": axis.kind,
            "log": axis.log,
            "importance": divergence,
            "share": divergence / total_divergence if total_divergence > 0 else 0.0,
        }
        for axis, divergence in scores
    ]
    result["enough"] = True
    notes = []
    if total is not None and total > jobs:
        notes.append(f"Ranked on the newest {jobs:,} of {total:,} finished jobs.")
    if total_divergence <= 0:
        notes.append("No hyperparameter tells the top jobs from the others: their values are spread alike.")
    result["message"] = " ".join(notes) or None
    return result
