"""The read API: what the dashboard shows, for programs (researchers' scripts, notebooks).

The views in tracking/api/views.py call these for their GET method. Every read starts from
Experiment.objects.visible_to(user) (through the views' require_experiment and friends),
and the set-level reads are the dashboard's own QuerySet methods (tracking/models.py):
the experiments list (for_list), the jobs table (for_table), status counts and the best
job, the curves (cursor, changed_jobs, curve_rows, shaped by tracking.charts.curves as
the dashboard's), final labeled values. So the pages and
the API show the same things, and every list costs a fixed number of queries however
many rows it has (tests/test_api_reads.py).
"""

import json

from django.contrib.auth import get_user_model
from django.db.models import Q, Subquery
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from tracking import charts, objectives
from tracking.api import serializers as s
from tracking.scores import decode_score
from tracking.connector import _unix_seconds
from tracking.interface import NotFoundError
from tracking.models import (
    Experiment,
    IntermediateResult,
    Job,
    JobAttempt,
    JobQuerySet,
    MultipleResult,
    Resource,
    ResultLabel,
)


def page_of(page_serializer, rows, query):
    """One page of `rows` (two queries: the count, the page)."""
    page, size = query["page"], query["page_size"]
    return page_serializer(
        {"count": rows.count(), "page": page, "page_size": size, "results": list(rows[(page - 1) * size : page * size])}
    ).data


def experiment_list(experiments, query):
    """A page of experiments, as the dashboard's list. Three queries: the count, the page,
    its tags."""
    owner_id = None
    if query.get("owner"):
        # The owner by user name, resolved inside the list's own query.
        users = get_user_model()._default_manager.filter(username=query["owner"]).values("pk")[:1]
        owner_id = Subquery(users)
    rows = experiments.for_list(
        search=query.get("search", ""), status=query.get("status", ""), owner_id=owner_id, sort=query["sort"]
    )
    # Notes and tags: the tag filter, and each row's tags (one query more).
    if query.get("tag"):
        rows = rows.tagged(query["tag"])
    return page_of(s.ExperimentPageOut, rows.with_tags(), query)


def experiment_detail(experiments, eid):
    """An experiment with its job counts by status, best job, label names and tags. Five queries."""
    experiment = experiments.for_list().filter(pk=eid).first()
    if experiment is None:
        raise NotFoundError(f"experiment {eid} does not exist")
    jobs = Job.objects.filter(experiment=experiment)
    experiment.jobs_by_status = {status or JobQuerySet.NO_STATUS: n for status, n in jobs.status_counts().items()}
    experiment.best = jobs.best(maximize=experiment.maximize)
    experiment.labels, more = first(ResultLabel.objects.filter(experiment=experiment).order_by("label_order"), s.LABELS_LIMIT)
    experiment.labels_next_after = experiment.labels[-1].label_order if more else None
    return s.ExperimentDetailOut(experiment).data


def labels(eid, query):
    """A page of an experiment's label names, in label order, each with its direction
    (tracking.objectives: set by the owner, else the default rule). Two queries (the
    experiment's target, the labels)."""
    experiment = Experiment.objects.only("config").get(pk=eid)
    rows = ResultLabel.objects.filter(experiment_id=eid, label_order__gt=query["after"]).order_by("label_order")
    rows, more = first(rows, query["limit"])
    shown = [
        {"label_order": label.label_order, "name": label.name, **objectives.label_objective(experiment, label).as_dict()}
        for label in rows
    ]
    return s.LabelPageOut({"labels": shown, "next_after": rows[-1].label_order if more else None}).data


def with_table_fields(job):
    # The jobs table's annotations, as the API shows them.
    job.duration_seconds = job.duration.total_seconds() if job.duration is not None else None
    job.resource = f"{job.resource_type} {job.resource_name}" if job.resource_type is not None else None
    return job


def job_list(eid, query):
    """A page of an experiment's jobs, as the dashboard's jobs table. Two queries."""
    rows = Job.objects.filter(experiment_id=eid).for_table(
        status=query.get("status", ""), sort=query["sort"], now=timezone.now()
    )
    page, size = query["page"], query["page_size"]
    results = [with_table_fields(job) for job in rows[(page - 1) * size : page * size]]
    return s.JobPageOut({"count": rows.count(), "page": page, "page_size": size, "results": results}).data


def attempt_rows(attempts):
    return [
        {
            "pk": attempt.pk,
            "number": attempt.number,
            "resource_id": attempt.resource_id,
            "resource": str(attempt.resource) if attempt.resource else None,
            "start_time": attempt.start_time,
            "end_time": attempt.end_time,
        }
        for attempt in attempts
    ]


def job_detail(jobs, jid):
    """A job with its latest attempts (s.ATTEMPTS_SHOWN; attempts() has them all) and final
    labeled values. Four queries."""
    job = jobs.filter(pk=jid).for_table(now=timezone.now()).first()
    if job is None:
        raise NotFoundError(f"job {jid} does not exist")
    with_table_fields(job)
    latest = JobAttempt.objects.filter(job=job).select_related("resource").order_by("-number")[: s.ATTEMPTS_SHOWN]
    job.attempts_out = attempt_rows(reversed(list(latest)))
    finals = MultipleResult.objects.final_values(job.experiment_id, [job.pk]).get(job.pk, {})
    # Only the names of its final values: an experiment may name many more labels.
    names = ResultLabel.objects.filter(experiment_id=job.experiment_id, label_order__in=list(finals))
    names = dict(names.values_list("label_order", "name"))
    job.final_values = [
        {"label_order": order, "name": names.get(order), "value_decoded": value} for order, value in sorted(finals.items())
    ]
    return s.JobDetailOut(job).data


def first(rows, limit):
    """The first `limit` of `rows`, and whether more follow. One query (limit + 1 rows)."""
    rows = list(rows[: limit + 1])
    return rows[:limit], len(rows) > limit


def attempts(jid, query):
    """A job's attempts after number `after`, in number order, at most `limit`. One query."""
    rows = JobAttempt.objects.filter(job_id=jid, number__gt=query["after"]).select_related("resource").order_by("number")
    rows, more = first(rows, query["limit"])
    return s.AttemptsOut({"attempts": attempt_rows(rows), "next_after": rows[-1].number if more else None}).data


def intermediate_results(jid, query):
    """A job's intermediate results after step `after`, in step order, at most `limit`. One query."""
    rows, more = first(IntermediateResult.objects.filter(job_id=jid, number__gt=query["after"]).order_by("number"), query["limit"])
    return s.IntermediateResultsOut({"results": rows, "next_after": rows[-1].number if more else None}).data


# -- the connector's reads, a page at a time ---------------------------------------------------
# As DjangoConnector's get_all_experiment, get_running_job, get_all_history and
# get_intermediate_results_*, each answer at most its limit (serializers' *_LIMIT) and
# where the next begins; RestConnector follows them, so an executor still gets everything.
# One query each (two for a user name), whatever an experiment holds.


def experiment_ids(owner_id, query):
    """Ids of experiments (of owner_id's, unless None) after `after`, oldest first. One query."""
    experiments = Experiment.objects.all() if owner_id is None else Experiment.objects.filter(owner_id=owner_id)
    eids, more = first(experiments.filter(pk__gt=query["after"]).order_by("pk").values_list("pk", flat=True), query["limit"])
    return s.EidsOut({"eids": eids, "next_after": eids[-1] if more else None}).data


def job_ids(eid, query):
    """Ids of an experiment's jobs after `after`, in id order. One query."""
    jobs = Job.objects.filter(experiment_id=eid, pk__gt=query["after"]).order_by("pk")
    jids, more = first(jobs.values_list("pk", flat=True), query["limit"])
    return s.JidsOut({"jids": jids, "next_after": jids[-1] if more else None}).data


def history(eid, query):
    """get_all_history's rows of the jobs after `after`, in jid order. One query."""
    jobs = Job.objects.filter(experiment_id=eid, pk__gt=query["after"]).order_by("pk")
    rows, more = first(
        jobs.values_list("pk", "score", "score_text", "start_time", "end_time", "status", "config"), query["limit"]
    )
    jobs = [
        {
            "jid": jid,
            "score": decode_score(number, text),
            "eid": eid,
            "start_time": _unix_seconds(start),
            "end_time": _unix_seconds(end),
            "status": status,
            "config_json": json.dumps(config),
        }
        for jid, number, text, start, end, status, config in rows
    ]
    return s.HistoryOut({"jobs": jobs, "next_after": rows[-1][0] if more else None}).data


def results_by_job(results, query):
    """Scores of `results` by job, in (jid, step) order, after (after_jid, after_step), at
    most `limit` of them; `next` is where the rest begins. One query.

    Pages are read one by one: a job that gains steps (or changes status) between two of
    them is seen as each page found it.
    """
    after_jid, after_step = query["after_jid"], query["after_step"]
    results = results.filter(Q(job_id__gt=after_jid) | Q(job_id=after_jid, number__gt=after_step))
    rows, more = first(results.order_by("job_id", "number").values_list("job_id", "number", "score", "score_text"), query["limit"])
    curves = {}
    for jid, _, number, text in rows:
        curves.setdefault(str(jid), []).append(decode_score(number, text))
    next_page = {"after_jid": rows[-1][0], "after_step": rows[-1][1]} if more else None
    return s.CurvesByJobOut({"curves": curves, "next": next_page}).data


def experiment_results(eid, status, query):
    """get_intermediate_results_experiment, a page at a time (status None: no job)."""
    results = IntermediateResult.objects.filter(job__experiment_id=eid, job__status=status)
    if status is None:
        results = results.none()
    return results_by_job(results, query)


def jobs_results(jids, query):
    """get_intermediate_results_jobs, a page at a time."""
    return results_by_job(IntermediateResult.objects.filter(job_id__in=jids), query)


def curves(eid, query):
    """The curves of a page of an experiment's jobs (those asked for, or all), downsampled
    as the dashboard's charts; with since, only those of the page that changed after that
    cursor. Five or six queries, whatever the experiment's size.

    The cursor is read first: a row committed while this answer is made is after it,
    so the next poll gets it.
    """
    results = IntermediateResult.objects
    cursor = results.cursor()
    jobs = Job.objects.filter(experiment_id=eid)
    if query["jid"]:
        jobs = jobs.filter(pk__in=query["jid"])
    count = jobs.count()
    size, page = query["page_size"], query["page"]
    pages = max(1, -(-count // size))
    start = (page - 1) * size
    job_ids = list(jobs.order_by("pk").values_list("pk", flat=True)[start : start + size])
    if "since" in query:
        job_ids = sorted(results.changed_jobs(job_ids, query["since"]))
    shaped = charts.curves(results.curve_rows(job_ids, query["points"]), query["points"])
    # The API's envelope of the dashboard's curves: full-precision numbers, by job id.
    curves = [
        {"jid": jid, "steps": [step for step, _ in points], "scores": [score for _, score in points]}
        for jid, points in sorted(shaped.items())
    ]
    return s.CurvesOut({"cursor": cursor, "count": count, "page": page, "pages": pages, "curves": curves}).data


def multiple_results(eid, query):
    """One label's values of an experiment's jobs, in id order, a page at a time. Two queries."""
    labels = ResultLabel.objects.filter(experiment_id=eid)
    if "label" in query:
        label = labels.filter(name=query["label"]).first()
        if label is None:
            raise NotFoundError(f"experiment {eid} has no label {query['label']!r}")
        order, name = label.label_order, label.name
    elif "order" in query:
        order = query["order"]
        name = labels.filter(label_order=order).values_list("name", flat=True).first()
    else:
        raise ValidationError({"label": ["Give a label name, or its order."]})
    rows = MultipleResult.objects.filter(experiment_id=eid, pk__gt=query["after"]).label(order)
    if query["jid"]:
        rows = rows.filter(job_id__in=query["jid"])
    rows = list(rows.select_related("intermediate_result").order_by("pk")[: query["limit"]])
    results = [
        {
            "pk": row.pk,
            "job_id": row.job_id,
            "intermediate_result_id": row.intermediate_result_id,
            "step": row.intermediate_result.number if row.intermediate_result_id else None,
            "value_decoded": row.value_decoded,
            "receive_time": row.receive_time,
            "is_last": row.is_last,
        }
        for row in rows
    ]
    next_after = rows[-1].pk if len(rows) == query["limit"] else None
    label = {"label_order": order, "name": name}
    return s.MultipleResultsOut({"label": label, "results": results, "next_after": next_after}).data


def resource_items(resources, visible_experiments, limit=None):
    """Resources (the first `limit`, in rid order) with the job each runs
    (ResourceQuerySet.with_holder), shown only where the caller may see its experiment:
    someone else's is just busy. Two queries, three when any runs."""
    rows = resources.with_holder().order_by("pk")
    rows = list(rows if limit is None else rows[:limit])
    holder_eids = {row.holder_experiment_id for row in rows if row.holder_experiment_id is not None}
    visible = set(visible_experiments.filter(pk__in=holder_eids).values_list("pk", flat=True)) if holder_eids else set()
    for row in rows:
        row.running = (
            {
                "jid": row.holder_job_id,
                "number": row.holder_job_number,
                "eid": row.holder_experiment_id,
                "experiment": row.holder_experiment_name,
            }
            if row.holder_experiment_id in visible
            else None
        )
    return rows


def resource_list(visible_experiments, query):
    """A page of resources, in rid order (two queries, three when any runs)."""
    rows = resource_items(Resource.objects.filter(pk__gt=query["after"]), visible_experiments, query["limit"] + 1)
    rows, more = rows[: query["limit"]], len(rows) > query["limit"]
    return s.ResourcePageOut({"resources": rows, "next_after": rows[-1].pk if more else None}).data


def token_list(tokens, query):
    """A page of tokens, in id order. One query."""
    rows, more = first(tokens.filter(pk__gt=query["after"]).order_by("pk"), query["limit"])
    return s.TokenPageOut({"tokens": rows, "next_after": rows[-1].pk if more else None}).data


def resource_detail(rid, visible_experiments):
    rows = resource_items(Resource.objects.filter(pk=rid), visible_experiments)
    if not rows:
        raise NotFoundError(f"resource {rid} does not exist")
    return s.ResourceListItemOut(rows[0]).data
