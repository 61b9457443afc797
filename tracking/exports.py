"""Exports: an experiment's jobs table, and the experiments list, as CSV or JSON.

What is exported is what the page shows: the jobs as ``tracking.views.table_jobs`` reads
the table's query values (status, sort, the brush's ``b.*`` keys), the experiments as
``tracking.views.listed_experiments`` reads the list's (q, status, owner, sort), so an
export link carrying the page's query gets the page's rows, in its order, all of them
(no paging). The pages' links (``/experiments/<eid>/jobs.csv``, ``/experiments.csv``, and
``.json``) and the API (tracking/api/views.py, ``.../export/?format=csv|json``) answer
from the same functions here.

Streamed, so that 10,000 jobs never sit in memory at once: the rows are read by one
query through a database cursor, EXPORT_CHUNK rows at a time (``QuerySet.iterator``),
and each chunk's final labeled values (or tags) by one more query; each chunk is written
out and dropped before the next is read. The query count grows with the chunks, never
with the jobs, and the web process's memory stays flat (make bench, exports rows).

Columns of the jobs: ``number``, ``id``, ``status``, ``score``, ``start``, ``end``,
``duration_seconds``, ``attempts``, then one ``param.<name>`` per hyperparameter and one
``result.<label>`` per labeled result (its final value). The prefixes keep a
hyperparameter or a label called ``score`` or ``status`` apart from the job's own
columns, whatever an executor names them. Hyperparameters: those declared in the
experiment's ``parameter_config``, in their order, then any other key of the first
PARAMS_FROM_JOBS jobs' configurations (by id), in the order first seen; a key only later
jobs have is not a column (reading every configuration first would hold them all). A
parameter a job's configuration lacks (or a configuration that is not an object) is an
empty cell in CSV and null in JSON; a JSON null value is written the same way.

Values: a score or labeled value is the finite number, or the text it was reported as
(``nan``, ``inf``, ``-inf``, ``EARLY STOPPED``), as the API gives it (tracking.scores).
Times are ISO 8601 in UTC; a running job's duration runs until now, as in the table.
A list or object value is its JSON text in CSV.

CSV is RFC 4180 (``csv.writer``, CRLF line ends, UTF-8 without a byte-order mark).
A text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return, and is not a number) is written with a ``'``
in front, as OWASP advises against CSV injection: ``=HYPERLINK(...)`` arrives as the text
``'=HYPERLINK(...)``, while ``-0.5`` and ``-inf`` stay numbers. JSON is never opened by a
spreadsheet and carries every value as it is.

JSON is one array of row objects, a row per line. Chosen over JSON Lines because
``json.load``, ``pandas.read_json``, jq and browsers read it as it is, and a download cut
short is invalid JSON, so it fails loudly instead of passing for a shorter table.
"""

import csv
import itertools
import json
import math
import re

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from tracking.models import Experiment, MultipleResult, target_maximizes
from tracking.views import _visible_experiment, listed_experiments, table_jobs

# Rows read (and written out) at a time: one query for each chunk's final labeled
# values, so 10,000 jobs cost 20 of them.
EXPORT_CHUNK = 500
# The jobs whose configuration keys become columns beyond the declared parameters.
PARAMS_FROM_JOBS = 1000
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
JOB_COLUMNS = ("number", "id", "status", "score", "start", "end", "duration_seconds", "attempts")
EXPERIMENT_COLUMNS = (
    "id", "name", "owner", "status", "start", "end", "jobs_total", "jobs_done", "best_score", "target", "tags",
)  # fmt: skip
# Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# -- values ----------------------------------------------------------------------------------


def wire(value):
    """A decoded score or labeled value as the exports carry it: a non-finite number as
    its spelling ('nan', 'inf', '-inf'), anything else as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value):
    """`value` as one CSV cell: "" for None, true/false, numbers as Python writes them,
    lists and objects as JSON, and a text a spreadsheet would run as a formula with a
    ``'`` in front (see the module's docstring)."""
    kind = type(value)
    if kind is float or kind is int:  # first: most cells of a jobs export are numbers
        return value
    if kind is not str:
        if value is None:
            return ""
        if kind is bool:
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return value
        value = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
    if value.startswith(FORMULA_STARTS) and not _is_number(value):
        return "'" + value
    return value


def _time(moment):
    return moment.isoformat() if moment is not None else None


def safe_filename(name, fallback, suffix):
    """A file name for Content-Disposition: `name` cut to letters, digits, dots, dashes
    and underscores (any other run of characters becomes one dash), or `fallback` when
    nothing is left, then `suffix`. No path, quote or control character gets through."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name or "").strip("-._")[:80].strip("-._")
    return f"{slug or fallback}{suffix}"


# -- jobs -------------------------------------------------------------------------------------


def job_columns(experiment):
    """(parameter names, [(label order, column name)], every column name) of `experiment`'s
    jobs export. Two queries (the first jobs' configurations, the labels)."""
    config = experiment.config if isinstance(experiment.config, dict) else {}
    declared = config.get("parameter_config")
    params = []
    for entry in declared if isinstance(declared, list) else ():
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name not in params:
            params.append(name)
    first = experiment.jobs.order_by("pk").values_list("config", flat=True)[:PARAMS_FROM_JOBS]
    for job_config in first:
        for key in job_config if isinstance(job_config, dict) else ():
            if key not in params:
                params.append(key)
    labels, taken = [], set()
    for order, name in experiment.result_labels.order_by("label_order").values_list("label_order", "name"):
        column = f"result.{name}"
        if column in taken:  # two labels of one name: the later one says its order
            column = f"result.{name} ({order})"
        taken.add(column)
        labels.append((order, column))
    columns = [*JOB_COLUMNS, *(f"param.{name}" for name in params), *(column for _, column in labels)]
    return params, labels, columns


def _chunks(rows, size):
    """`rows` (an iterable) as lists of at most `size`."""
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def job_rows(experiment, jobs, params, labels, chunk=None):
    """The rows of `jobs` (a queryset of `experiment`'s jobs from table_jobs, in its
    order), as lists in the order of job_columns' columns.

    One query for the jobs, read through a cursor `chunk` rows at a time
    (QuerySet.iterator), and one per chunk for its jobs' final labeled values (on the
    partial (experiment, job) index): the cost grows with the chunks, not the jobs, and
    only one chunk is in memory at a time.
    """
    chunk = chunk or EXPORT_CHUNK
    # The duration is the table's (until now while a job runs), computed here from the
    # times already read: on SQLite the database computes it in Python anyway, a
    # function call per row (make bench, exports row: a fifth of the time).
    now = timezone.now()
    fields = ("pk", "number", "status", "score", "score_text", "start_time", "end_time", "attempts_count", "config")
    orders = [order for order, _ in labels]
    for rows in _chunks(jobs.values_list(*fields).iterator(chunk_size=chunk), chunk):
        finals = {}
        if orders:
            ids = [row[0] for row in rows]
            finals = MultipleResult.objects.filter(label_order__in=orders).final_values(experiment.pk, ids)
        for jid, number, status, score, score_text, start, end, attempts, config in rows:
            config = config if isinstance(config, dict) else {}
            values = finals.get(jid, {})
            yield [
                number,
                jid,
                status,
                score if score is not None else score_text,
                _time(start),
                _time(end),
                ((end or now) - start).total_seconds() if start is not None else None,
                attempts,
                *(config.get(name) for name in params),
                *(wire(values.get(order)) for order in orders),
            ]


def jobs_export(request, experiment, fmt):
    """The streamed export of `experiment`'s jobs as its table shows them (`fmt`: csv
    or json). The caller has checked that the user may see `experiment`."""
    jobs, _, _ = table_jobs(request, experiment)
    params, labels, columns = job_columns(experiment)
    filename = safe_filename(experiment.name, f"experiment-{experiment.pk}", f"-jobs.{fmt}")
    return streamed(fmt, columns, job_rows(experiment, jobs, params, labels), filename)


# -- experiments ------------------------------------------------------------------------------


def experiment_rows(experiments, chunk=None):
    """The rows of `experiments` (the list's queryset, from listed_experiments, in its
    order), as lists in the order of EXPERIMENT_COLUMNS. One query for the experiments,
    read through a cursor `chunk` rows at a time, and one per chunk for their tags."""
    chunk = chunk or EXPORT_CHUNK
    tagging = Experiment.tags.through.objects
    # Only the target of each configuration is read, not the whole of it.
    fields = ("pk", "name", "owner__username", "status", "start_time", "end_time", "jobs_total", "jobs_done",
              "best_score", "config__target")  # fmt: skip
    for rows in _chunks(experiments.values_list(*fields).iterator(chunk_size=chunk), chunk):
        tags = {}
        pairs = tagging.filter(experiment_id__in=[row[0] for row in rows]).order_by("tag__name")
        for eid, tag in pairs.values_list("experiment_id", "tag__name"):
            tags.setdefault(eid, []).append(tag)
        for eid, name, owner, status, start, end, total, done, best, target in rows:
            target = "max" if target_maximizes({"target": target}) else "min"
            yield [eid, name, owner, status, _time(start), _time(end), total, done, best, target, tags.get(eid, [])]


def experiments_export(request, fmt):
    """The streamed export of the experiments list as the user's list shows it."""
    experiments, _ = listed_experiments(request)
    return streamed(fmt, EXPERIMENT_COLUMNS, experiment_rows(experiments), f"experiments.{fmt}")


# -- streams -----------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write gives back what it was given: csv.writer formats one
    row into it, and the stream yields the row's text (Django's documented pattern for
    streaming large CSV files)."""

    def write(self, value):
        return value


def csv_stream(columns, rows):
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(column) for column in columns])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def json_stream(columns, rows):
    """One JSON array of objects keyed by `columns`, a row per line."""
    yield "["
    separator = "\n"
    for row in rows:
        # allow_nan=False: a non-finite number must have become its spelling (wire); a
        # bare NaN is not JSON, and a file no parser reads is worse than an error here.
        yield separator + json.dumps(dict(zip(columns, row)), ensure_ascii=False, allow_nan=False)
        separator = ",\n"
    yield "\n]\n"


def streamed(fmt, columns, rows, filename):
    """A StreamingHttpResponse of `rows` in `fmt`, to save as `filename`."""
    stream = csv_stream(columns, rows) if fmt == "csv" else json_stream(columns, rows)
    response = StreamingHttpResponse(stream, content_type=FORMATS[fmt])
    response["Content-Disposition"] = content_disposition_header(True, filename)
    # A download of data that changes while an experiment runs: never from a cache.
    response["Cache-Control"] = "no-store"
    return response


# -- the pages' links --------------------------------------------------------------------------


@require_GET
def jobs_csv(request, eid):
    """The jobs table as CSV, filtered and sorted by the page's query values."""
    return jobs_export(request, _visible_experiment(request, eid), "csv")


@require_GET
def jobs_json(request, eid):
    """The jobs table as JSON, filtered and sorted by the page's query values."""
    return jobs_export(request, _visible_experiment(request, eid), "json")


@require_GET
def experiments_csv(request):
    """The experiments list as CSV, filtered and sorted by the list's query values."""
    return experiments_export(request, "csv")


@require_GET
def experiments_json(request):
    """The experiments list as JSON, filtered and sorted by the list's query values."""
    return experiments_export(request, "json")
