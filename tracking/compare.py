"""Compare (issue 13, item 5): jobs of one experiment side by side, and experiments'
best-so-far curves overlaid. The two pages, and the reads their API operations share
(tracking/api/views.py: jobs_compare, experiments_compare).

Access as everywhere: every read starts from ``Experiment.objects.visible_to(user)``.
An id that is unknown, someone else's, or (for jobs) of another experiment gets one
and the same answer, so that nothing tells them apart: the page says which ids it
could not find (404), the API answers 404. Bad input (no ids, too few or too many,
malformed) is a clear message on the page (400) or the API's 400; never a 500.

Both pages run a fixed number of queries whatever the number of jobs (listed in the
docstrings of compare_jobs and compare_experiments; tests/test_compare.py counts them).
"""

from django.db.models import Case, OuterRef, Subquery, When
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tracking import charts
from tracking.models import Experiment, IntermediateResult, Job, MultipleResult
from tracking.views import (
    CHART_TABLE_ROWS,
    MAX_CONFIG_ENTRIES,
    MAX_QUERY_CHARS,
    _final_values,
    _shown_labels,
    _visible_experiment,
    parse_id,
)

# How many jobs (of one experiment) and experiments a comparison holds: enough to
# compare, few enough that every column and curve stays readable.
MIN_JOBS, MAX_JOBS = 2, 6
MIN_EXPERIMENTS, MAX_EXPERIMENTS = 2, 5
# Points per compared curve, as the experiment page's default curves.
CURVE_BUDGET = charts.CURVE_BUDGET
# The experiments comparison reads at most this many jobs of each experiment (its
# first, by number) for the best-so-far lines, and sends only their improvements.
JOBS_PER_EXPERIMENT = 10_000
# Rows of each experiment in the tables under the best-so-far charts (the charts draw all).
TABLE_ROWS = CHART_TABLE_ROWS


class CompareError(Exception):
    """Input a comparison cannot use: a message for a person, and the status it gets
    (400 bad input, 404 ids not found)."""

    def __init__(self, message, status=400, field=None):
        super().__init__(message)
        self.status = status
        self.field = field


def id_list(query, name, low, high, noun):
    """The ids of query parameter `name` of `query` (a QueryDict): comma-separated,
    repeated (``?ids=1&ids=2``, as a GET form sends checkboxes) or both; duplicates
    dropped, order kept. CompareError unless there are `low` to `high` well-formed ids."""
    values = query.getlist(name)
    text = ",".join(values)
    if len(text) > MAX_QUERY_CHARS or "\x00" in text:
        raise CompareError(f"{name} is too long: give {low} to {high} {noun} ids.", field=name)
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    if not items:
        raise CompareError(f"Pick {low} to {high} {noun}s to compare.", field=name)
    ids = [parse_id(item) for item in items]
    bad = [item for item, value in zip(items, ids) if value is None]
    if bad:
        shown = bad[0] if len(bad[0]) <= 20 else bad[0][:20] + "…"
        raise CompareError(
            f"{name} takes {noun} ids (whole numbers), comma-separated; {shown!r} is not one.", field=name
        )
    unique = list(dict.fromkeys(ids))
    if not low <= len(unique) <= high:
        raise CompareError(f"A comparison takes {low} to {high} {noun}s; {len(unique)} given.", field=name)
    return unique


def _not_found(noun, ids, where=""):
    listed = ", ".join(str(i) for i in ids)
    return CompareError(f"No {noun} {listed}{where} among those you can see.", status=404)


# -- jobs of one experiment -------------------------------------------------------------


def _declared_names(config):
    """The parameters the experiment declares, in order (they lead the config diff)."""
    entries = config.get("parameter_config") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        return []
    return [entry["name"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)]


def compare_jobs(experiment, ids, now=None, limit=MAX_CONFIG_ENTRIES):
    """The comparison of jobs `ids` of `experiment` (already visible to the caller):
    a dict of ``jobs`` (in number order, with the jobs table's annotations and
    ``final_values``), ``labels``/``labels_total``, the config ``diff`` and ``hidden``
    keys, and the chart ``series`` (charts.compare_series).

    CompareError (404) naming the ids that are not jobs of this experiment, whether
    unknown, another experiment's or someone else's. Seven queries, four without labels:
    the jobs (with attempts count, duration: for_table), the labels shown, the final
    labeled values, the score curves (longest, rows), the labeled curves (longest,
    rows), whatever the number of jobs, steps and labels.
    """
    now = now or timezone.now()
    found = {job.pk: job for job in experiment.jobs.filter(pk__in=ids).for_table(now=now)}
    missing = [jid for jid in ids if jid not in found]
    if missing:
        raise _not_found("job" if len(missing) == 1 else "jobs", missing, f" in experiment {experiment.pk}")
    jobs = sorted(found.values(), key=lambda job: job.number)
    order = [job.pk for job in jobs]
    labels, labels_total = _shown_labels(experiment)
    finals = _final_values(experiment.pk, order, labels) if labels else {}
    for job in jobs:
        mine = finals.get(job.pk, {})
        job.final_values = [mine.get(label.label_order) for label in labels]
        job.duration_seconds = job.duration.total_seconds() if job.duration is not None else None
    score = charts.curves(IntermediateResult.objects.curve_rows(order, CURVE_BUDGET), CURVE_BUDGET)
    labeled = {}
    if labels:
        rows = MultipleResult.objects.filter(label_order__in=[label.label_order for label in labels]).curve_rows(
            order, CURVE_BUDGET, partition=("label_order", "job_id")
        )
        labeled = charts.curves(rows, CURVE_BUDGET)
    diff, hidden = charts.config_diff(
        [job.config for job in jobs], _declared_names(experiment.config), limit
    )
    return {
        "jobs": jobs,
        "labels": labels,
        "labels_total": labels_total,
        "diff": diff,
        "hidden": hidden,
        "series": charts.compare_series(score, labeled, order, [(label.label_order, label.name) for label in labels]),
    }


def _jobs_chart_payload(experiment, data):
    return {
        "maximize": experiment.maximize,
        "budget": CURVE_BUDGET,
        "jobs": [{"id": job.pk, "number": job.number} for job in data["jobs"]],
        "series": data["series"],
    }


@require_GET
def jobs_page(request, eid):
    """Jobs of one experiment side by side: ``?jobs=<id>,<id>,...`` (2 to 6)."""
    experiment = _visible_experiment(request, eid)
    context = {"experiment": experiment, "min_jobs": MIN_JOBS, "max_jobs": MAX_JOBS}
    try:
        ids = id_list(request.GET, "jobs", MIN_JOBS, MAX_JOBS, "job")
        data = compare_jobs(experiment, ids)
    except CompareError as exc:
        return render(request, "tracking/compare_jobs.html", {**context, "error": str(exc)}, status=exc.status)
    differing = sum(1 for row in data["diff"] if row["differs"])
    context.update(
        data,
        differing=differing,
        final_rows=[
            (label.name, [job.final_values[index] for job in data["jobs"]]) for index, label in enumerate(data["labels"])
        ],
        labels_hidden=data["labels_total"] - len(data["labels"]),
        chart_payload=_jobs_chart_payload(experiment, data),
        curve_table=charts.compare_curve_table(data["series"], {job.pk: job.number for job in data["jobs"]}),
        budget=CURVE_BUDGET,
    )
    return render(request, "tracking/compare_jobs.html", context)


# -- experiments ----------------------------------------------------------------------------


def compare_experiments(experiments, ids, limit=MAX_CONFIG_ENTRIES):
    """The comparison of experiments `ids` among `experiments` (the caller's visible
    ones): a dict of ``experiments`` (in the order asked, each with the list's
    annotations, ``maximize``, ``best_job`` and ``lines``: its best-so-far by job
    number and by seconds since its start), the config ``diff`` and ``hidden`` keys.

    "Best" follows each experiment's own target. Only the first JOBS_PER_EXPERIMENT
    jobs of each (by number) are read, and only their improvements and the last point
    are kept (charts.best_so_far_lines). CompareError (404) naming the ids not found.
    Three queries whatever the number of jobs: the experiments (with counts, best
    score and best job id), the best jobs, every job's (number, score, end).
    """
    jobs = Job.objects.filter(experiment=OuterRef("pk"))
    rows = experiments.for_list().filter(pk__in=ids).annotate(
        best_job_id=Case(
            When(config__target__iexact="min", then=Subquery(jobs.best_first(maximize=False).values("pk")[:1])),
            default=Subquery(jobs.best_first(maximize=True).values("pk")[:1]),
        )
    )
    found = {experiment.pk: experiment for experiment in rows}
    missing = [eid for eid in ids if eid not in found]
    if missing:
        raise _not_found("experiment" if len(missing) == 1 else "experiments", missing)
    chosen = [found[eid] for eid in ids]
    best_ids = [experiment.best_job_id for experiment in chosen if experiment.best_job_id is not None]
    best = {job.pk: job for job in Job.objects.filter(pk__in=best_ids)} if best_ids else {}
    points = {}
    scores = (
        Job.objects.filter(experiment_id__in=ids, number__lte=JOBS_PER_EXPERIMENT)
        .order_by("experiment_id", "number")
        .values_list("experiment_id", "number", "score", "end_time")
    )
    for eid, number, score, end in scores:
        points.setdefault(eid, []).append((number, score, end))
    for experiment in chosen:
        experiment.best_job = best.get(experiment.best_job_id)
        mine = points.get(experiment.pk, [])
        origin = experiment.start_time or min((end for _, _, end in mine if end is not None), default=None)
        by_index, by_time = charts.best_so_far_lines(mine, experiment.maximize, origin)
        experiment.lines = {"by_index": by_index, "by_time": by_time}
        # The lines as a table (the charts' text alternative): each improvement's job
        # number and best score, then its time since the start.
        experiment.line_rows = list(zip(*by_index))[:TABLE_ROWS]
        experiment.time_rows = list(zip(*by_time))[:TABLE_ROWS]
        experiment.capped = experiment.jobs_total > JOBS_PER_EXPERIMENT
    diff, hidden = charts.config_diff(
        [charts.experiment_config_entries(experiment.config) for experiment in chosen], limit=limit
    )
    return {"experiments": chosen, "diff": diff, "hidden": hidden}


def _experiments_chart_payload(data):
    return {
        "experiments": [
            {
                "id": experiment.pk,
                "name": str(experiment),
                "maximize": experiment.maximize,
                "by_index": experiment.lines["by_index"],
                "by_time": experiment.lines["by_time"],
            }
            for experiment in data["experiments"]
        ],
    }


@require_GET
def experiments_page(request):
    """Experiments side by side: ``?ids=<id>,<id>,...`` (2 to 5)."""
    context = {"min_experiments": MIN_EXPERIMENTS, "max_experiments": MAX_EXPERIMENTS, "cap": JOBS_PER_EXPERIMENT}
    try:
        ids = id_list(request.GET, "ids", MIN_EXPERIMENTS, MAX_EXPERIMENTS, "experiment")
        data = compare_experiments(Experiment.objects.visible_to(request.user), ids)
    except CompareError as exc:
        return render(request, "tracking/compare_experiments.html", {**context, "error": str(exc)}, status=exc.status)
    context.update(
        data,
        differing=sum(1 for row in data["diff"] if row["differs"]),
        capped=[experiment for experiment in data["experiments"] if experiment.capped],
        chart_payload=_experiments_chart_payload(data),
    )
    return render(request, "tracking/compare_experiments.html", context)


# -- the API's answers (tracking/api/views.py: compare_jobs, compare_experiments) -------------


def _diff_out(diff):
    return [
        {
            "name": row["name"],
            "values": [None if cell["absent"] else cell["value"] for cell in row["cells"]],
            "present": [not cell["absent"] for cell in row["cells"]],
            "differs": row["differs"],
        }
        for row in diff
    ]


def jobs_answer(experiment, ids):
    """What GET /api/experiments/<eid>/jobs/compare/ answers (s.CompareJobsOut), every
    configuration key compared. CompareError as compare_jobs; its queries."""
    data = compare_jobs(experiment, ids, limit=None)
    orders = {str(label.label_order): label.label_order for label in data["labels"]}
    return {
        "eid": experiment.pk,
        "maximize": experiment.maximize,
        "jobs": data["jobs"],
        "labels": [label.name for label in data["labels"]],
        "config_diff": _diff_out(data["diff"]),
        "points": CURVE_BUDGET,
        "series": [
            {
                "series": entry["name"],
                "label_order": orders.get(entry["value"]),
                "curves": [{"jid": int(jid), "steps": xs, "values": ys} for jid, (xs, ys) in entry["curves"].items()],
            }
            for entry in data["series"]
        ],
    }


def experiments_answer(experiments, ids):
    """What GET /api/experiments/compare/ answers (s.CompareExperimentsOut), every
    configuration key compared. CompareError as compare_experiments; its queries."""
    data = compare_experiments(experiments, ids, limit=None)
    for experiment in data["experiments"]:
        (jx, jy), (tx, ty) = experiment.lines["by_index"], experiment.lines["by_time"]
        experiment.line_by_job = {"x": jx, "best": jy}
        experiment.line_by_time = {"x": tx, "best": ty}
    return {"experiments": data["experiments"], "config_diff": _diff_out(data["diff"])}
