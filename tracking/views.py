"""The researcher's dashboard: server-rendered pages, htmx fragments and chart JSON.

Every read starts from ``Experiment.objects.visible_to(request.user)``: an id that is
unknown or someone else's is a 404, for pages, fragments and JSON alike (a client can
ask for a fragment directly, so the check is here, never only in a template). Login is
required everywhere by LoginRequiredMiddleware.

A fragment is a template that its page includes: an htmx request (``HX-Request``) for
the page, targeting the fragment's element (``HX-Target``), gets that template alone,
so page and fragment are rendered by the same code and never drift. A live page has
one clock, its summary's htmx poll; the jobs table and the charts refresh on each of
its answers. Polls of an ended experiment (and the table's refresh) are answered with
HTTP 286, which tells htmx to stop polling.
"""

import hashlib
import json
import re

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tracking import brush as brushes
from tracking import charts, importance, notes, notes_pages, objectives, parcoords, recovery
from tracking.api.fields import ID_MAX
from tracking.models import (
    ACTIVE_EXPERIMENT_STATUSES,
    Direction,
    Experiment,
    ExperimentQuerySet,
    ExperimentStatus,
    IntermediateResult,
    Job,
    JobAttempt,
    JobQuerySet,
    JobStatus,
    MultipleResult,
    Resource,
)

EXPERIMENTS_PER_PAGE = 25
JOBS_PER_PAGE = 25
RESOURCES_PER_PAGE = 50
RECENT_ATTEMPTS = 12
# Curves drawn by default: the best jobs, the newest running ones, and the user's picks.
BEST_CURVES = 10
RUNNING_CURVES = 10
MAX_SELECTED = 20
MAX_CURVES_ALL = 200
# A job page draws one curve per series at this budget, and lists this many attempts.
JOB_CURVE_BUDGET = 500
JOB_ATTEMPTS_SHOWN = 100
# Hyperparameter columns of the jobs table.
MAX_PARAM_COLUMNS = 12
# What a page shows of an experiment, whatever it holds (existing data and imports may
# hold far more labels than may be recorded now): the labels shown as columns of the
# jobs table, entries of the series menu and final values of a job page (the first by
# order; a note says how many are not shown and where to read them all), and the
# entries of a configuration shown (parameters, other settings, a job's
# configuration). A value longer than MAX_VALUE_CHARS is cut (templatetags/dashboard.py).
MAX_LABEL_COLUMNS = 20
MAX_CONFIG_ENTRIES = 50
MAX_VALUE_CHARS = 200
# Rows of the tables under the history and parameter charts (the charts draw them all).
CHART_TABLE_ROWS = 200
# What charts.js must keep to, sent in every chart payload so that no limit is typed
# again in JavaScript: the jobs a selection holds, the rows of the charts' tables.
PAGE_LIMITS = {"selected": MAX_SELECTED, "table_rows": CHART_TABLE_ROWS}
# A live page's one clock: htmx polls its summary this often, and the jobs table and the
# charts refresh on each answer (aupsite/templates/tracking/experiment_detail.html, job_detail.html).
POLL_SECONDS = 2
# htmx stops polling an element whose request gets this status (htmx 2.x).
STOP_POLLING = 286


# -- query values -----------------------------------------------------------------------
#
# Every query value of every page, fragment and chart JSON is read by one of the
# functions below, never by request.GET directly, so that no value reaches a query,
# a cache key or a template unchecked (a Unicode digit passes str.isdigit(); an id
# past 2**63 - 1 overflows SQLite's integer; a NUL cannot go to PostgreSQL).
#
# What a bad value gets depends on who sent it. The chart JSON endpoints are asked by
# charts.js with values from a previous answer: a malformed one is a program's mistake,
# answered 400 with {"error": ...} saying what was expected (BadRequest). Pages and
# their htmx fragments are URLs a person types, edits or bookmarks: a malformed value
# is ignored, as if it were absent (the page shows its default), never an error page.

# Ids are 64-bit signed integers in SQLite and PostgreSQL (bigint): the largest id,
# the API's (its paths' <id:...> converter, which the pages' paths use too).
MAX_ID = ID_MAX
# The longest query value read at all (a search, a list of ids); a longer one is
# malformed. 20 digits and a comma per id of the longest list fit.
MAX_QUERY_CHARS = 5000
# A search of the experiments list is cut to this many characters.
MAX_SEARCH_CHARS = 200
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)
# A history version from a previous answer (JobQuerySet.history_counts): four parts,
# the last an ISO time or empty.
_HISTORY_VERSION = re.compile(r"[0-9]{1,19}\.[0-9]{1,19}\.[0-9]{1,19}\.[0-9T:.+-]{0,40}", re.ASCII)


class BadRequest(Exception):
    """A malformed query value of a JSON endpoint: answered 400 with its message."""


def _raw(request, name):
    """The query value `name` as text, "" when absent; None when it is malformed in a
    way no parser below accepts (too long, a NUL, a character that is not Unicode)."""
    value = request.GET.get(name, "")
    if len(value) > MAX_QUERY_CHARS or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # pragma: no cover - Django decodes with replacement characters
        return None
    return value


def parse_id(text):
    """`text` as an id (ASCII digits, 0 to MAX_ID), or None."""
    if text is None or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def _query_id(request, name):
    """A page's id filter (e.g. ``owner``): the id, or None when absent or malformed."""
    return parse_id(_raw(request, name))


def _query_choice(request, name, choices, default):
    """A page's choice (a sort, a status): the value when it is one of `choices`, else `default`."""
    value = _raw(request, name)
    return value if value in choices else default


def _query_page(request):
    """A page number for Paginator.get_page: a whole number from 1, else 1 (get_page
    shows the last page for a number past it)."""
    number = _query_id(request, "page")
    return number if number else 1


def _query_search(request, name):
    """A search text: stripped and cut to MAX_SEARCH_CHARS; "" when malformed."""
    value = _raw(request, name)
    return (value or "").strip()[:MAX_SEARCH_CHARS]


def _query_tag(request):
    """The experiments list's tag filter: a tag name (tracking.notes.tag_name's
    spelling), or "" when absent or not a tag name (notes and tags, issue 13 item 7)."""
    try:
        return notes.tag_name(_raw(request, "tag") or "")
    except notes.AnnotationError:
        return ""


def _json_cursor(request, name):
    """A JSON endpoint's cursor from a previous answer: an id, None when absent;
    BadRequest when malformed."""
    raw = _raw(request, name)
    if raw == "":
        return None
    value = parse_id(raw)
    if value is None:
        raise BadRequest(f"{name} must be a cursor from a previous response (a whole number from 0 to {MAX_ID})")
    return value


def _json_id_list(request, name, limit):
    """A JSON endpoint's comma-separated ids, at most `limit` of them; BadRequest when
    malformed."""
    raw = _raw(request, name)
    if raw is None:
        raise BadRequest(f"{name} must be a comma-separated list of at most {limit} ids")
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if len(items) > limit:
        raise BadRequest(f"{name} takes at most {limit} ids")
    values = [parse_id(item) for item in items]
    if None in values:
        raise BadRequest(f"{name} must be a comma-separated list of ids (whole numbers from 0 to {MAX_ID})")
    return values


def _json_choice(request, name, choices, default):
    """A JSON endpoint's choice: `default` when absent; BadRequest when not one of `choices`."""
    raw = _raw(request, name)
    if raw == "":
        return default
    if raw not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")
    return raw


def _json_history_version(request, name):
    """The history version of a previous answer, None when absent; BadRequest when malformed."""
    raw = _raw(request, name)
    if raw == "":
        return None
    if raw is None or not _HISTORY_VERSION.fullmatch(raw):
        raise BadRequest(f"{name} must be the history_version of a previous response")
    return raw


# -- charts part (issue 13): the chart view's query values -------------------------------
#
# The experiment page's URL carries the charts' view (aupsite/static/aupsite/charts.js keeps it):
# ``objective``, ``series``, ``all``, ``pin`` and ``cx``/``cy`` matter to the server (the
# first draw is already right); ``logy`` and ``zoom`` are the browser's alone.


def _page_objective(request, experiment, labels):
    """A page's objective: the one its URL names, else the score (a malformed or unknown
    value is ignored)."""
    raw = _raw(request, "objective")
    chosen = objectives.find(experiment, labels, raw) if raw else None
    return chosen or objectives.score_objective(experiment)


def _json_objective(request, experiment, labels):
    """A JSON endpoint's objective: the score when absent; BadRequest when it names
    none of the experiment's objectives."""
    raw = _raw(request, "objective")
    if raw == "":
        return objectives.score_objective(experiment)
    key = objectives.parse_key(raw)
    if key is None:
        raise BadRequest("objective must be 'score' or the number of one of the experiment's labels")
    chosen = objectives.find(experiment, labels, key)
    if chosen is None:
        raise BadRequest(f"objective {key} names no labeled result of this experiment")
    return chosen


def _page_ids(request, name, limit):
    """A page's comma-separated ids (pinned jobs): at most `limit`, the malformed left out."""
    raw = _raw(request, name) or ""
    ids = [parse_id(item.strip()) for item in raw.split(",")[: limit * 2] if item.strip()]
    return list(dict.fromkeys(jid for jid in ids if jid is not None))[-limit:]


def _chart_parameter(request, name, strict=False):
    """A contour parameter's name (``cx``, ``cy``): None when absent. Malformed (too
    long, a NUL): ignored on a page, BadRequest for the JSON endpoint (`strict`). A name
    that is no parameter of the experiment is not an error: the contour takes its
    default pair (charts.contour_pair) and says which it drew."""
    raw = _raw(request, name)
    if raw is None:
        if strict:
            raise BadRequest(f"{name} must be the name of a hyperparameter")
        return None
    return raw[:MAX_SEARCH_CHARS] or None


def _objective_choices(experiment, labels, objective):
    """The objectives the page offers: the score and each label shown, and `objective`
    when it is a label past those."""
    choices = objectives.objectives(experiment, labels)
    if all(choice.key != objective.key for choice in choices):
        choices.append(objective)
    return choices


# -- end of the charts part's query values ---------------------------------------------


def _visible_experiment(request, eid):
    experiment = (
        Experiment.objects.visible_to(request.user).select_related("owner").filter(pk=eid).first()
    )
    if experiment is None:
        raise Http404("No such experiment")
    return experiment


def _shown_labels(experiment):
    """The labels a page shows (the first MAX_LABEL_COLUMNS by order) and how many the
    experiment has. One query; two when it has more."""
    labels = list(experiment.result_labels.order_by("label_order")[: MAX_LABEL_COLUMNS + 1])
    if len(labels) <= MAX_LABEL_COLUMNS:
        return labels, len(labels)
    return labels[:MAX_LABEL_COLUMNS], experiment.result_labels.count()


def _final_values(experiment_id, job_ids, labels):
    """{job id: {label order: value}} of the final values of `labels` only. One query."""
    orders = [label.label_order for label in labels]
    return MultipleResult.objects.filter(label_order__in=orders).final_values(experiment_id, job_ids)


def _hx_target(request):
    return request.headers.get("HX-Target") if request.headers.get("HX-Request") == "true" else None


# -- experiments list ----------------------------------------------------------------


def listed_experiments(request):
    """The experiments the list shows, filtered and sorted from the query string (``q``,
    ``status``, ``owner``, ``sort``): (queryset, filters), `filters` a dict of the values
    read. The one reading of the list's query values, shared by the list and its exports
    (tracking/exports.py), so that the two never disagree. No query until evaluated."""
    visible = Experiment.objects.visible_to(request.user)
    filters = {
        "search": _query_search(request, "q"),
        "status": _query_choice(request, "status", ExperimentStatus.values, ""),
        "sort": _query_choice(request, "sort", ExperimentQuerySet.LIST_SORTS, "running"),
        # Only staff see other people's experiments, so only they filter by owner.
        "owner_id": _query_id(request, "owner") if request.user.is_staff else None,
    }
    rows = visible.for_list(**filters)
    # Notes and tags: only the experiments carrying the tag ``tag``, if given.
    filters["tag"] = _query_tag(request)
    return (rows.tagged(filters["tag"]) if filters["tag"] else rows), filters


@require_GET
def experiment_list(request):
    rows, filters = listed_experiments(request)
    search, status, sort, owner_id = filters["search"], filters["status"], filters["sort"], filters["owner_id"]
    owners = []
    if request.user.is_staff:
        visible = Experiment.objects.visible_to(request.user)
        owners = list(get_user_model().objects.filter(experiments__in=visible).distinct().order_by("username"))
    # Each row's tags (one query).
    rows = rows.with_tags()
    tag = filters["tag"]
    page = Paginator(rows, EXPERIMENTS_PER_PAGE).get_page(_query_page(request))
    now = timezone.now()
    # The active experiments' signs of life: one query, none when the page has none.
    active = [experiment.pk for experiment in page if experiment.status in ACTIVE_EXPERIMENT_STATUSES]
    signs = recovery.liveness(Experiment.objects.filter(pk__in=active), now) if active else {}
    for experiment in page:
        experiment.jobs_planned = max(experiment.planned_jobs or 0, experiment.jobs_total)
        experiment.elapsed = _elapsed(experiment, now)
        experiment.liveness = signs.get(experiment.pk)
        experiment.waiting = _waiting_for_executor(experiment, experiment.jobs_total)
    filtered = bool(search or status or owner_id or tag)
    return render(
        request,
        "tracking/experiment_list.html",
        {
            "page": page,
            "tag": tag,  # notes and tags
            "search": search,
            "status": status,
            "sort": sort,
            "owner_id": owner_id,
            "owners": owners,
            "statuses": ExperimentStatus.values,
            "filtered": filtered,
            "has_any": filtered or page.paginator.count > 0,
        },
    )


def _elapsed(experiment, now):
    if experiment.start_time is None:
        return None
    return (experiment.end_time or now) - experiment.start_time


# -- experiment page and its fragments -------------------------------------------------


def _waiting_for_executor(experiment, jobs_total):
    # RUNNING with no job yet: fresh, or restarted (which deletes its jobs). Only an
    # executor's first job says that one is at work on it.
    return experiment.status == ExperimentStatus.RUNNING and jobs_total == 0


# -- recorded errors (issue 13) ----------------------------------------------------------
#
# An executor records one error per experiment, the first (ExperimentQuerySet.log_error:
# later ones are dropped), and jobs have no error field: a job's reason is known only
# when the experiment's error names it ("job 3: worker crashed", as the demo and
# people write it, by the job's number in the experiment). A job it names that did not
# fail (retried, then finished) recovered: the summary says so instead of presenting
# the crash as the experiment's failure, and a FAILED job's page says what is known.

_ERROR_JOB = re.compile(r"\bjob\s+#?([0-9]{1,9})\b", re.IGNORECASE | re.ASCII)
# Only the start of a message is searched for a job: a traceback may be long.
ERROR_SCAN_CHARS = 500


def error_job_number(message):
    """The job number `message` names (its first "job N" in its first ERROR_SCAN_CHARS
    characters), or None."""
    match = _ERROR_JOB.search(message[:ERROR_SCAN_CHARS]) if message else None
    return int(match.group(1)) if match else None


def _error_context(experiment):
    """The experiment's recorded error as the summary shows it: ``message``, the
    ``job`` it names (pk, number, status) or None, and ``recovered`` when that job did
    not fail. Nothing when there is no error. One query when the error names a job
    (the (experiment, number) unique index), none otherwise."""
    if not experiment.error_msg:
        return None
    number = error_job_number(experiment.error_msg)
    job = None
    if number is not None:
        job = experiment.jobs.filter(number=number).only("pk", "number", "status", "experiment_id").first()
    return {
        "message": experiment.error_msg,
        "job": job,
        "recovered": job is not None and job.status != JobStatus.FAILED,
    }


def _summary_context(experiment, user, now=None, objective=None):
    """Status, counts, progress, ETA, the best job by `objective` (the page's chosen
    objective, tracking.objectives; the score when None) and, while the experiment is
    active, its signs of life (recovery.liveness): waiting for an executor, or quiet for
    longer than its jobs usually take, with the repair for its owner (the aup_reset
    line) and staff (a button), and its recorded error (_error_context). Two queries,
    three while it is active, one more when its recorded error names a job."""
    objective = objective or objectives.score_objective(experiment)
    jobs = experiment.jobs.all()
    counts = jobs.status_counts()
    total = sum(counts.values())
    running = counts.get(JobStatus.RUNNING, 0)
    done = total - running
    planned = experiment.planned_jobs
    now = now or timezone.now()
    liveness = None
    if experiment.status in ACTIVE_EXPERIMENT_STATUSES:
        liveness = recovery.liveness(Experiment.objects.filter(pk=experiment.pk), now).get(experiment.pk)
    elapsed = _elapsed(experiment, now)
    eta = None
    if not experiment.ended and elapsed is not None:
        eta = charts.eta_seconds(elapsed.total_seconds(), done, planned)
    status_counts = [
        (label, counts.get(value, 0), css)
        for label, value, css in (
            ("running", JobStatus.RUNNING, "running"),
            ("finished", JobStatus.FINISHED, "finished"),
            ("early stopped", JobStatus.EARLY_STOPPED, "early"),
            ("failed", JobStatus.FAILED, "failed"),
            ("no status", None, "none"),
        )
    ]
    # charts part (issue 13): the best job by the page's objective, in its direction.
    best = jobs.best_for(objective.label_order, objective.maximize)
    best_value = None
    if best is not None:
        best_value = best.score_value if objective.is_score else best.objective_value
    return {
        "objective": objective,
        "best_value": best_value,
        "experiment": experiment,
        "counts": status_counts,
        "jobs_total": total,
        "jobs_done": done,
        "jobs_running": running,
        "jobs_planned": max(planned or 0, total),
        "planned": planned,
        "elapsed": elapsed,
        "eta": eta,
        "best": best,
        "polling": not experiment.ended,
        "poll_seconds": POLL_SECONDS,
        "liveness": liveness,
        "waiting": _waiting_for_executor(experiment, total),
        "quiet": liveness is not None and liveness.quiet,
        "can_change": experiment.is_changeable_by(user),
        # Restart and Delete are shown disabled with this reason (Experiment.busy_reason,
        # the rule the controls themselves enforce), never offered to be refused.
        "busy_reason": experiment.busy_reason(),
        "error": _error_context(experiment),
        "jobs_failed": counts.get(JobStatus.FAILED, 0),
        "repair_command": recovery.repair_command(experiment.pk),
        "executor_needed": recovery.executor_needed(experiment.pk),
    }


def table_jobs(request, experiment):
    """The jobs of `experiment` as its jobs table shows them, filtered and sorted from
    the query string: (queryset, status, sort). The one reading of the table's query
    values, shared by the table and whatever lists "the jobs as the table shows them"
    (exports), so that the two never disagree. No query until evaluated."""
    status = _query_choice(request, "status", (*JobStatus.values, JobQuerySet.NO_STATUS), "")
    # Newest first by default: while an experiment runs, its moving jobs are on page 1.
    sort = _query_choice(request, "sort", JobQuerySet.TABLE_SORTS, "-id")
    rows = experiment.jobs.for_table(status=status, sort=sort, now=timezone.now())
    # -- parallel coordinates (issue 13): the brush (b.* keys) narrows the table, its
    # counts, its pages and the exports alike, in the database.
    rows = _page_brush(request, experiment).apply(rows)
    # -- end parallel coordinates
    return rows, status, sort


def _jobs_table_context(request, experiment, labels, labels_total):
    """The jobs table's page, sorted and filtered from the query string. Three queries
    (count, page, final labeled values). `labels` are the labels shown as columns, of
    `labels_total`."""
    rows, status, sort = table_jobs(request, experiment)
    page = Paginator(rows, JOBS_PER_PAGE).get_page(_query_page(request))
    jobs = list(page)
    params = []
    for job in jobs:
        for key in job.config if isinstance(job.config, dict) else ():
            if len(params) == MAX_PARAM_COLUMNS:
                break
            if key not in params:
                params.append(key)
    finals = _final_values(experiment.pk, [job.pk for job in jobs], labels) if labels and jobs else {}
    for job in jobs:
        job.param_values = [job.config.get(name, "") if isinstance(job.config, dict) else "" for name in params]
        values = finals.get(job.pk, {})
        job.final_values = [values.get(label.label_order) for label in labels]
    return {
        "experiment": experiment,
        "page": page,
        "jobs": jobs,
        "params": params,
        # Configs that are not dicts (Auptimizer stores any JSON value) get a column of their own.
        "other_configs": any(not isinstance(job.config, dict) for job in jobs),
        "labels": labels,
        "labels_total": labels_total,
        "labels_hidden": labels_total - len(labels),
        "table_status": status,
        "table_sort": sort,
        "job_statuses": [*JobStatus.values, JobQuerySet.NO_STATUS],
        "polling": not experiment.ended,
        # -- parallel coordinates (issue 13)
        **_brush_context(request, experiment),
        # -- end parallel coordinates
    }


def _config_context(experiment):
    config = experiment.config if isinstance(experiment.config, dict) else {}
    parameters = []
    entries = config.get("parameter_config")
    entries = entries if isinstance(entries, list) else []
    for entry in entries[:MAX_CONFIG_ENTRIES]:
        if isinstance(entry, dict):
            parameters.append(
                {
                    "name": entry.get("name", "?"),
                    "type": entry.get("type", ""),
                    "range": entry.get("range", entry.get("choices", entry.get("values", ""))),
                    "extra": _first_entries(
                        {k: v for k, v in entry.items() if k not in ("name", "type", "range", "choices", "values")}
                    ),
                }
            )
    known = {"name", "proposer", "target", "n_samples", "script", "parameter_config", "workingdir", "resource"}
    other = [key for key in config if key not in known]
    return {
        "proposer": config.get("proposer"),
        "target": "min" if not experiment.maximize else "max",
        "script": config.get("script"),
        "workingdir": config.get("workingdir"),
        "resource": config.get("resource"),
        "parameters": parameters,
        "parameters_total": len(entries),
        "parameters_hidden": max(len(entries) - MAX_CONFIG_ENTRIES, 0),
        "other": {key: config[key] for key in other[:MAX_CONFIG_ENTRIES]},
        "other_hidden": max(len(other) - MAX_CONFIG_ENTRIES, 0),
    }


def _first_entries(mapping):
    return dict(list(mapping.items())[:MAX_CONFIG_ENTRIES])


@require_GET
def experiment_detail(request, eid):
    experiment = _visible_experiment(request, eid)
    target = _hx_target(request)
    if target == "summary":
        # The summary's poll carries the page's objective (hx-include of its chooser):
        # its best job is the objective's. No label is read for the score.
        objective = _page_objective(request, experiment, [])
        context = _summary_context(experiment, request.user, objective=objective)
        # And the controls' status (aupsite/templates/tracking/_experiment_controls.html): when
        # it is not the experiment's any more, the answer redraws them out of band (a
        # value that is no status is ignored, as any malformed page value).
        drawn_for = _query_choice(request, "controls", ExperimentStatus.values, None)
        context["controls_oob"] = context["can_change"] and drawn_for is not None and drawn_for != experiment.status
        response = render(request, "tracking/_experiment_summary.html", context)
        return _stop_polling_when_ended(request, response, experiment.ended)
    # -- hyperparameter importance (issue 13, part 2): its panel, alone
    if target == "importance":
        response = render(request, "tracking/_importance.html", _importance_context(request, experiment))
        return _stop_polling_when_ended(request, response, experiment.ended)
    # -- end of hyperparameter importance
    labels, labels_total = _shown_labels(experiment)
    if target == "jobs":
        response = render(
            request, "tracking/_jobs_table.html", _jobs_table_context(request, experiment, labels, labels_total)
        )
        return _stop_polling_when_ended(request, response, experiment.ended)
    # charts part (issue 13): the first draw follows the view the URL names.
    objective = _page_objective(request, experiment, labels)
    chart_view = {
        "brush": _page_brush(request, experiment),
        "show_all": _raw(request, "all") in ("1", "true"),
        "selected": _page_ids(request, "pin", MAX_SELECTED),
        "objective": objective,
        "pair": (_chart_parameter(request, "cx"), _chart_parameter(request, "cy")),
    }
    try:
        payload = chart_payload(experiment, labels, series=_raw(request, "series") or "score", **chart_view)
    except BadRequest:
        # A series that names no label of the experiment: the score's curves instead.
        payload = chart_payload(experiment, labels, series="score", **chart_view)
    context = {
        **_summary_context(experiment, request.user, objective=objective),
        **_jobs_table_context(request, experiment, labels, labels_total),
        "config": _config_context(experiment),
        "chart_payload": payload,
        "objective_choices": _objective_choices(experiment, labels, objective),
        "chart_logy": _raw(request, "logy") == "1",
        # -- hyperparameter importance and label directions (issue 13, parts 2 and 3):
        # the panel is computed by its own request (HX-Target: importance) once the page
        # is shown, so the page's cost does not grow with the experiment.
        "importance_pending": True,
        **directions_context(experiment, labels, labels_total),
        # -- end of hyperparameter importance and label directions
        **notes_pages.experiment_context(experiment, request.user),  # notes and tags
    }
    return render(request, "tracking/experiment_detail.html", context)


def _stop_polling_when_ended(request, response, ended):
    # Only a poll (or the table's refresh on the page's clock) is told to stop: it is
    # issued by the refreshed element itself (HX-Trigger is its id, the same as the
    # target's). A click on a sort link in an ended experiment's table is an ordinary
    # request, whose URL htmx must push.
    if ended and request.headers.get("HX-Trigger") == _hx_target(request):
        response.status_code = STOP_POLLING
    return response


# An ended experiment's charts no longer change: its payload is cached, so opening a big
# finished experiment costs one cache read. The key holds everything the payload
# depends on, its start and end times included: a restart starts a new key. (Results
# an executor writes after it ended the experiment show once the entry expires.)
ENDED_CHARTS_CACHE_SECONDS = 3600


def chart_payload(experiment, labels, series="score", show_all=False, selected=(), since=None, have=(),
                  history_version=None, objective=None, pair=(None, None), brush=None):
    """The charts' data (see _chart_payload); from the cache once the experiment has ended.
    BadRequest when `series` names no label of the experiment. `objective` (the score
    when None) ranks the history, slice and contour charts; `pair` names the contour's
    parameters (cx, cy)."""
    labels = _series_labels(experiment, labels, series)
    objective = objective or objectives.score_objective(experiment)
    view = (objective, tuple(pair))
    if not experiment.ended:
        return _chart_payload(experiment, labels, series, show_all, selected, since, have, history_version, *view,
                              brush=brush)
    stamps = [moment.isoformat() if moment else "" for moment in (experiment.start_time, experiment.end_time)]
    key = ":".join(
        ["charts", str(experiment.pk), experiment.status, *stamps, str(series), str(bool(show_all)),
         ",".join(map(str, sorted(selected))), history_version or "", brush.cache_key() if brush else ""]
    )
    # charts part (issue 13): the objective (and its direction) and the contour's pair;
    # hashed, since a parameter name may hold anything.
    key += ":" + hashlib.sha256(
        json.dumps([objective.as_dict(), objective.maximize, list(pair)]).encode()
    ).hexdigest()[:32]
    if len(key) > 200:
        # Twenty pinned ids make a key longer than some cache backends take (memcached: 250).
        key = "charts:" + hashlib.sha256(key.encode()).hexdigest()
    payload = cache.get(key)
    if payload is None:
        # An ended experiment's payload ignores `since` and `have`: every curve is sent.
        payload = _chart_payload(
            experiment, labels, series, show_all, selected, None, (), history_version, *view, brush=brush
        )
        cache.set(key, payload, ENDED_CHARTS_CACHE_SECONDS)
    return payload


def _series_labels(experiment, labels, series):
    """`labels` with the label `series` draws: "score", a label of `labels`, or another
    label of the experiment by its order (one query, then). BadRequest otherwise,
    checked before `series` goes into a cache key."""
    if series == "score":
        return labels
    order = parse_id(series)
    if order is not None:
        if any(label.label_order == order for label in labels):
            return labels
        label = experiment.result_labels.filter(label_order=order).first()
        if label is not None:
            return [*labels, label]
    orders = ", ".join(str(label.label_order) for label in labels) or "(none)"
    raise BadRequest(f"series must be 'score' or the number of one of the experiment's labels ({orders})")


def _chart_payload(experiment, labels, series, show_all, selected, since, have, history_version, objective,
                   pair=(None, None), brush=None):
    """The data of the experiment page's charts, or what changed since a previous call.

    `since` is the cursor a previous payload returned: only curves with newer points (or
    not in `have`, the job ids the client already holds) are sent, whole, downsampled.
    The history and parameter charts are sent only when `history_version` differs
    from the current one; they rank jobs by `objective` (its values, its direction),
    and the contour plots the parameters `pair` names. Bounded whatever the experiment's size: at most
    BEST_CURVES + RUNNING_CURVES + MAX_SELECTED curves of CURVE_BUDGET points, or
    MAX_CURVES_ALL of ALL_CURVE_BUDGET, and HISTORY_BUDGET jobs. The queries are
    QuerySet methods; charts.experiment_payload shapes their rows.
    """
    results = IntermediateResult.objects.all() if series == "score" else MultipleResult.objects.label(int(series))
    # The cursor is read before the rows, so a row written in between is sent again
    # next time rather than never. Changed curves are re-sent whole, so a row that
    # commits out of id order (PostgreSQL) shows with its job's next point, and the
    # last poll, once the experiment has ended, re-sends every curve.
    cursor = results.cursor()
    jobs = brush.apply(experiment.jobs.all()) if brush else experiment.jobs.all()  # the brush (parallel coordinates)
    budget = charts.ALL_CURVE_BUDGET if show_all else charts.CURVE_BUDGET
    shown = jobs.curve_set(
        maximize=experiment.maximize,
        best=BEST_CURVES,
        running=RUNNING_CURVES,
        selected=selected,
        show_all=MAX_CURVES_ALL if show_all else None,
    )
    ids = [row[0] for row in shown]
    if since is None or experiment.ended:
        send = ids
    else:
        changed = results.changed_jobs(ids, since)
        held = set(have)
        send = [jid for jid in ids if jid in changed or jid not in held]
    shaped = charts.curves(results.curve_rows(send, budget), budget)
    config = experiment.config if isinstance(experiment.config, dict) else {}
    return charts.experiment_payload(
        ended=experiment.ended,
        maximize=experiment.maximize,
        parameter_config=config.get("parameter_config"),
        series=series,
        labels=[(label.label_order, label.name) for label in labels],
        cursor=cursor,
        show_all=show_all,
        shown=shown,
        selected=selected,
        shaped=shaped,
        budget=budget,
        history=history(
            jobs, charts.HISTORY_BUDGET, charts.HISTORY_BUCKETS, unless_version=history_version,
            label_order=objective.label_order,
        ),
        best=BEST_CURVES,
        limits=PAGE_LIMITS,
        objective=objective,
        objectives=_objective_choices(experiment, labels, objective),
        pair=pair,
    )


def history(jobs, budget, buckets, unless_version=None, label_order=None):
    """What the optimization-history and parameter charts draw of `jobs`, read with the
    JobQuerySet's history methods, for charts.history_payload. The values are the
    objective's: the score, or the final value of the label `label_order`
    (JobQuerySet.with_objective).

    Returns a dict: ``version`` (changes whenever a job is added or ends), ``total``
    jobs, ``non_finite`` (jobs without a finite value), ``rows`` [(id, number, value,
    config)] by id, and ``sampled``. Up to `budget` jobs with a finite value come back whole;
    beyond, only the first, last, lowest and highest score of each of `buckets` runs of
    job ids (charts.history_sample), so the best and the worst jobs are always there.
    Two queries (counts, then rows), three when sampled (counts, every job's id and
    score, the kept rows); one, without ``rows``, when the version still equals
    `unless_version`.
    """
    counts = jobs.history_counts(label_order)
    result = {"version": counts["version"], "total": counts["total"], "non_finite": counts["non_finite"]}
    if counts["version"] == unless_version:
        return result
    result.update(rows=[], sampled=False)
    if not counts["finite"]:
        return result
    if counts["finite"] > budget:
        # Only (id, score) of every job is read, by the (experiment, score) index; the
        # configs come for the kept jobs alone. Four window functions over 10,000 jobs
        # (extremes_per_bucket) took 40 ms in SQLite; this takes 8.
        kept = charts.history_sample(jobs.finite_scores(label_order), buckets)
        result.update(rows=jobs.history_rows(kept, label_order=label_order), sampled=True)
    else:
        result["rows"] = jobs.history_rows(label_order=label_order)
    return result


@require_GET
def experiment_charts(request, eid):
    """JSON for charts.js: the first draw, and the live updates after ``since``."""
    experiment = _visible_experiment(request, eid)
    try:
        since = _json_cursor(request, "since")
        selected = _json_id_list(request, "select", MAX_SELECTED)
        have = _json_id_list(request, "have", MAX_CURVES_ALL + BEST_CURVES + RUNNING_CURVES + MAX_SELECTED)
        show_all = _json_choice(request, "all", ("", "0", "1", "false", "true"), "") in ("1", "true")
        series = _raw(request, "series")
        if series is None:
            raise BadRequest("series must be 'score' or a label number")
        labels = _shown_labels(experiment)[0]
        try:
            brush = brushes.parse(request.GET, experiment, strict=True, labels=labels)
        except brushes.BrushError as exc:
            raise BadRequest(str(exc)) from None
        # The objective (history, slice and contour) and the contour's pair.
        objective = _json_objective(request, experiment, labels)
        pair = (_chart_parameter(request, "cx", strict=True), _chart_parameter(request, "cy", strict=True))
        payload = chart_payload(
            experiment,
            labels,
            brush=brush,
            series=series or "score",
            show_all=show_all,
            selected=selected,
            since=since,
            have=have,
            history_version=_json_history_version(request, "history"),
            objective=objective,
            pair=pair,
        )
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(payload)


# -- hyperparameter importance (issue 13, part 2) --------------------------------------
#
# Its panel ranks the hyperparameters for the page's objective (the ``objective`` query
# key: "score" or a label order; malformed or unknown: the score). Computing it reads
# every finished job's configuration, so the result is cached, keyed by what it depends
# on: the experiment (and its start, which a restart changes), the objective and its
# direction, and the number of finished jobs with the newest one's id. A poll while
# nothing finished costs two small queries and a cache read; a job that finishes starts
# a new key. (A final labeled value written after its job finished shows once another
# job finishes, or the entry expires.)
IMPORTANCE_CACHE_SECONDS = 24 * 3600
IMPORTANCE_CACHE_VERSION = "1"  # bump when tracking/importance.py changes its answers


def importance_result(experiment, objective):
    """The importance of `experiment`'s hyperparameters for `objective`
    (tracking.importance.importance, with ``objective``: its as_dict), from the cache
    while no job has finished since it was computed. Two queries when cached (the
    finished jobs' version, the cache read); three more when computed (the rows, and
    the cache's write)."""
    finished, newest = experiment.jobs.finished_version()
    key = ":".join([
        "importance", IMPORTANCE_CACHE_VERSION, str(experiment.pk),
        experiment.start_time.isoformat() if experiment.start_time else "",
        objective.key, str(objective.direction), str(finished), str(newest or ""),
    ])
    result = cache.get(key)
    if result is None:
        config = experiment.config if isinstance(experiment.config, dict) else {}
        rows = experiment.jobs.objective_rows(objective.label_order, limit=importance.MAX_JOBS)
        result = importance.importance(
            rows, config.get("parameter_config"), objective.maximize,
            total=finished if len(rows) >= importance.MAX_JOBS else None,
        )
        cache.set(key, result, IMPORTANCE_CACHE_SECONDS)
    return {**result, "objective": objective.as_dict()}


def _importance_context(request, experiment):
    """The importance panel (aupsite/templates/tracking/_importance.html) for the page's objective."""
    objective = _page_objective(request, experiment, [])
    result = importance_result(experiment, objective)
    for row in result["importances"]:
        row["percent"] = round(100 * row["share"], 1)
    return {
        "experiment": experiment,
        "importance": result,
        "importance_objective": objective,
        "polling": not experiment.ended,
    }


def directions_context(experiment, labels, labels_total):
    """The labels' directions form (aupsite/templates/tracking/_directions.html): per label shown,
    its objective, its stored direction and what the default rule says. No query."""
    rows = []
    for label, objective in zip(labels, objectives.objectives(experiment, labels)[1:]):
        automatic = objectives.default_maximizes(label.name, experiment.maximize)
        rows.append({
            "label": label,
            "objective": objective,
            "stored": label.direction or "",
            "automatic": Direction.MAX.label if automatic else Direction.MIN.label,
            "automatic_why": (
                "the name reads as a cost" if objectives.LOWER_IS_BETTER.search(label.name) else "as the experiment's target"
            ),
        })
    return {
        "directions": rows,
        "directions_hidden": labels_total - len(labels),
        "directions_choices": [(value, name) for value, name in Direction.choices],
    }


# -- job page --------------------------------------------------------------------------


def _visible_job(request, jid):
    job = Job.objects.visible_to(request.user).select_related("experiment__owner").filter(pk=jid).first()
    if job is None:
        raise Http404("No such job")
    return job


def _job_live(job):
    return job.status == JobStatus.RUNNING and not job.experiment.ended


def job_payload(job, labels):
    """The job page's chart: its score curve and each labeled curve, downsampled, and
    the cursor for the next poll. Five queries (cursor; score curve: longest, rows;
    labeled curves: longest, rows)."""
    cursor = IntermediateResult.objects.cursor()
    score = charts.curves(IntermediateResult.objects.curve_rows([job.pk], JOB_CURVE_BUDGET), JOB_CURVE_BUDGET)
    orders = [label.label_order for label in labels]
    labeled = charts.curves(
        MultipleResult.objects.filter(job_id=job.pk, label_order__in=orders).curve_rows(
            [job.pk], JOB_CURVE_BUDGET, partition=("label_order",)
        ),
        JOB_CURVE_BUDGET,
    ) if labels else {}
    names = {label.label_order: label.name for label in labels}
    series = charts.job_series(score.get(job.pk, []), labeled, names)
    # maximize: which way the score's best goes, for the chart's text summary.
    return {"ended": not _job_live(job), "maximize": job.experiment.maximize, "cursor": cursor, "series": series}


# -- attempt outcomes (issue 13): what each attempt bar and row says ---------------------
#
# An attempt records no outcome of its own: its job's status is the outcome of the job's
# last attempt, and an attempt followed by another one failed (the executor retried the
# job). The job page and the resources page colour their bars and name their rows with
# this one rule.

ATTEMPT_OUTCOMES = {
    # key: (words, css class of the badge and the bar)
    "running": ("running", "running"),
    "retried": ("failed, retried", "failed"),
    "retry_pending": ("failed, retry pending", "failed"),
    "finished": ("finished", "finished"),
    "failed": ("failed", "failed"),
    "early_stopped": ("early stopped", "early"),
    "no_status": ("ended with no status (cancelled)", "none"),
}
# The legend under a timeline: each colour once, in the order a job goes through them.
ATTEMPT_LEGEND = [("running", "running"), ("finished", "finished"), ("failed", "failed"),
                  ("early stopped", "early"), ("no status (cancelled)", "none")]


def attempt_outcome(ended, last, job_status):
    """The outcome key (ATTEMPT_OUTCOMES) of an attempt: `ended` (it has an end time),
    `last` (no later attempt of its job), `job_status` its job's status (None: Auptimizer
    ends a cancelled job with no status). No query."""
    if not last:
        return "retried"
    if job_status == JobStatus.RUNNING:
        return "retry_pending" if ended else "running"
    return {
        JobStatus.FINISHED: "finished",
        JobStatus.FAILED: "failed",
        JobStatus.EARLY_STOPPED: "early_stopped",
    }.get(job_status, "no_status")


def _mark_outcome(attempt, last, job_status):
    key = attempt_outcome(attempt.end_time is not None, last, job_status)
    attempt.outcome = key
    attempt.outcome_label, attempt.outcome_class = ATTEMPT_OUTCOMES[key]


def _job_error_context(job):
    """What the job page says of the experiment's recorded error (see "recorded errors"):
    ``names_job`` (the number it names, or None), ``this_job`` (it names this job), and
    ``message``; None when the experiment has no error. No query."""
    message = job.experiment.error_msg
    if not message:
        return None
    number = error_job_number(message)
    return {"message": message, "names_job": number, "this_job": number == job.number}


def _job_context(job, labels, labels_total):
    """The job page's summary: attempts with their timeline, final values of `labels`
    (the labels shown, of `labels_total`). Two queries (attempts with resources, final
    values)."""
    attempts = list(job.attempts.select_related("resource").order_by("number")[:JOB_ATTEMPTS_SHOWN])
    now = timezone.now()
    for index, attempt in enumerate(attempts):
        attempt.duration = (attempt.end_time - attempt.start_time) if attempt.start_time and attempt.end_time else None
        # The last one shown is the job's last unless the list is cut (attempts_more).
        last = index == len(attempts) - 1 and len(attempts) < JOB_ATTEMPTS_SHOWN
        _mark_outcome(attempt, last, job.status)
    finals = _final_values(job.experiment_id, [job.pk], labels).get(job.pk, {})
    started = [a for a in attempts if a.start_time]
    timeline = []
    if started:
        origin = min(a.start_time for a in started)
        # A running job's timeline runs to now, so a wait for a retry shows as a gap.
        finish = now if job.status == JobStatus.RUNNING else max(a.end_time or now for a in started)
        intervals = [(a.start_time, a.end_time or now) for a in started]
        bars = charts.timeline_bars(intervals, origin, finish)
        for attempt, (start, end), (x, width) in zip(started, intervals, bars):
            timeline.append(
                {"attempt": attempt, "x": x, "width": width, "duration": end - start, "open": attempt.end_time is None}
            )
    return {
        "job": job,
        "experiment": job.experiment,
        "attempts": attempts,
        "attempts_more": len(attempts) == JOB_ATTEMPTS_SHOWN,
        "timeline": timeline,
        "timeline_height": 2 * len(timeline),
        "attempt_legend": ATTEMPT_LEGEND,
        "final_values": [(label.name, finals.get(label.label_order)) for label in labels],
        "labels_total": labels_total,
        "labels_hidden": labels_total - len(labels),
        "config_items": list(job.config.items())[:MAX_CONFIG_ENTRIES] if isinstance(job.config, dict) else [],
        "config_hidden": max(len(job.config) - MAX_CONFIG_ENTRIES, 0) if isinstance(job.config, dict) else 0,
        "duration": ((job.end_time or now) - job.start_time) if job.start_time else None,
        "error": _job_error_context(job),
        "polling": _job_live(job),
        "poll_seconds": POLL_SECONDS,
    }


@require_GET
def job_detail(request, jid):
    job = _visible_job(request, jid)
    labels, labels_total = _shown_labels(job.experiment)
    context = _job_context(job, labels, labels_total)
    if _hx_target(request) == "job-summary":
        response = render(request, "tracking/_job_summary.html", context)
        return _stop_polling_when_ended(request, response, not _job_live(job))
    payload = job_payload(job, labels)
    # The points behind the chart, as a table for those who do not see the chart.
    score_series = payload["series"][0]["data"]
    context.update(
        chart_payload=payload, curve_rows=list(zip(score_series[0], score_series[1])), curve_budget=JOB_CURVE_BUDGET
    )
    context.update(notes_pages.job_context(job, request.user))  # notes and tags
    return render(request, "tracking/job_detail.html", context)


@require_GET
def job_chart(request, jid):
    """JSON for charts.js on a job page: the curves again, only when the job has new
    points after ``since`` (else ``unchanged``), and ``ended`` to stop polling."""
    job = _visible_job(request, jid)
    try:
        since = _json_cursor(request, "since")
    except BadRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if since is not None and _job_live(job) and not IntermediateResult.objects.filter(job_id=job.pk, pk__gt=since).exists():
        return JsonResponse({"unchanged": True, "ended": False, "cursor": since})
    return JsonResponse(job_payload(job, _shown_labels(job.experiment)[0]))


# -- resources page --------------------------------------------------------------------


@require_GET
def resource_list(request):
    resources = Resource.objects.order_by("type", "name", "pk")
    page = Paginator(resources, RESOURCES_PER_PAGE).get_page(_query_page(request))
    rows = list(page)
    # Whether each attempt is its job's last (attempt_outcome): an EXISTS in the same query.
    later = JobAttempt.objects.filter(job_id=OuterRef("job_id"), number__gt=OuterRef("number"))
    attempts = JobAttempt.objects.timelines([r.pk for r in rows], request.user, limit=RECENT_ATTEMPTS).annotate(
        retried_after=Exists(later)
    )
    by_resource = {}
    for attempt in attempts:
        _mark_outcome(attempt, not attempt.retried_after, attempt.job.status)
        by_resource.setdefault(attempt.resource_id, []).append(attempt)
    now = timezone.now()
    starts = [a.start_time for group in by_resource.values() for a in group if a.start_time]
    origin = min(starts) if starts else now
    for resource in rows:
        group = by_resource.get(resource.pk, [])
        resource.running = [a for a in group if a.running]
        resource.recent = group
        resource.conflict = len(resource.running) > 1
        started = [a for a in group if a.start_time]
        bars = charts.timeline_bars([(a.start_time, a.end_time or now) for a in started], origin, now)
        resource.segments = [{"attempt": a, "x": x, "width": width} for a, (x, width) in zip(started, bars)]
    return render(
        request,
        "tracking/resource_list.html",
        {"page": page, "resources": rows, "origin": origin, "now": now, "recent": RECENT_ATTEMPTS,
         "attempt_legend": ATTEMPT_LEGEND},
    )


# -- parallel coordinates (issue 13) ---------------------------------------------------
#
# The brush (tracking/brush.py) is read once per request and applied by table_jobs (the
# jobs table, its counts and pages, the exports) and by the charts' data; the
# parallel-coordinates data itself is parcoords.json below (tracking/parcoords.py
# shapes it, aupsite/static/aupsite/parcoords.js draws it).


def _page_brush(request, experiment):
    """The brush of a page's query string (b.* keys): a malformed or unknown key is
    ignored. Read once per request and experiment: at most one query (the labels
    brushed on, when any is)."""
    memo = getattr(request, "_aupsite_brush", None)
    if memo is None or memo.experiment_id != experiment.pk:
        memo = brushes.parse(request.GET, experiment, strict=False)
        request._aupsite_brush = memo
    return memo


def _brush_context(request, experiment):
    """What the jobs table says of the brush: how many jobs are inside it, of how many,
    and a link without it. No query without a brush; one with (both counts at once)."""
    brush = _page_brush(request, experiment)
    if not brush:
        return {"brush": None}
    counts = experiment.jobs.order_by().aggregate(total=Count("pk"), inside=Count("pk", filter=brush.q()))
    params = request.GET.copy()
    for key in [key for key in params if key.startswith(brushes.PREFIX)] + ["page"]:
        params.pop(key, None)
    encoded = params.urlencode()
    return {
        "brush": brush,
        "brush_inside": counts["inside"],
        "brush_total": counts["total"],
        "brush_clear_href": f"?{encoded}" if encoded else "?",
    }


def parcoords_data(experiment, objective, brush, labels):
    """The parallel-coordinates payload (tracking.parcoords.payload) of `experiment`
    coloured by `objective`, with the jobs inside `brush` counted. Three queries
    whatever the number of jobs: the counts (all jobs, those with a value, those inside
    the brush), every job's (id, value) of the objective, then the drawn jobs' configs."""
    jobs = experiment.jobs.all().with_objective(objective.label_order)
    counts = jobs.order_by().aggregate(
        total=Count("pk"),
        with_value=Count("pk", filter=Q(objective_value__isnull=False)),
        inside=Count("pk", filter=brush.q()) if brush else Count("pk"),
    )
    scored = list(jobs.filter(objective_value__isnull=False).order_by("pk").values_list("pk", "objective_value"))
    kept, sampled = parcoords.sample(scored, objective.maximize)
    value_of = dict(scored)
    configs = experiment.jobs.filter(pk__in=kept).order_by("pk").values_list("pk", "number", "config")
    rows = [(jid, number, config, value_of[jid]) for jid, number, config in configs]
    config = experiment.config if isinstance(experiment.config, dict) else {}
    return parcoords.payload(
        objective=objective,
        parameter_config=config.get("parameter_config"),
        rows=rows,
        counts=counts,
        sampled=sampled,
        brush=brush,
        options=objectives.objectives(experiment, labels),
    )


@require_GET
def experiment_parcoords(request, eid):
    """JSON for parcoords.js: the axes and the drawn jobs' values, coloured by
    ``objective``, with the number of jobs inside the brush (b.* keys). A malformed
    objective or brush key is a 400 with {"error": ...}."""
    experiment = _visible_experiment(request, eid)
    labels = _shown_labels(experiment)[0]
    try:
        objective = _json_objective(request, experiment, labels)
        brush = brushes.parse(request.GET, experiment, strict=True, labels=labels)
    except (BadRequest, brushes.BrushError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if not experiment.ended:
        return JsonResponse(parcoords_data(experiment, objective, brush, labels))
    # An ended experiment's lines no longer change: cached as its charts are (the key
    # holds what the payload depends on; a restart starts a new key). A label's
    # direction is part of the key, since its owner may change it after the end.
    stamps = [moment.isoformat() if moment else "" for moment in (experiment.start_time, experiment.end_time)]
    key = ":".join(["parcoords", str(experiment.pk), experiment.status, *stamps, objective.key,
                    str(objective.direction), brush.cache_key()])
    payload = cache.get(key)
    if payload is None:
        payload = parcoords_data(experiment, objective, brush, labels)
        cache.set(key, payload, ENDED_CHARTS_CACHE_SECONDS)
    return JsonResponse(payload)


# -- end parallel coordinates
