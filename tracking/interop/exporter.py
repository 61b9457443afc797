"""Export aupsite's experiments as an Auptimizer SQLite database (``manage.py aup_export``).

The file has Auptimizer's exact schema (tracking.interop.schema), by default the one
Auptimizer 2.0 on PyPI creates, so its own tools (``SQLiteConnector``, its dashboard)
read it as theirs, and ``aup_import`` reads it back. Ids are aupsite's (experiment 12
is eid 12). What Auptimizer's format cannot hold the way aupsite does:

- Names: in the 2.0 schema the name is the config's ``name`` key, so the exported
  config carries aupsite's name; the master-branch schema (``with_name``) has a column.
- Label names: the config's ``resource_args.multi_res_labels``; when aupsite's labels
  differ from the config's (an executor passed its own), the exported config has aupsite's.
- Times are whole Unix seconds (fractions are dropped).
- Scores: numbers and infinities as REAL, text as text; NaN as the text ``'nan'``,
  since SQLite would turn a NaN into NULL (Auptimizer's readers treat a text score, as
  its own ``'EARLY STOPPED'``, as no number).
- Users: the owners of the exported experiments, with Auptimizer's permission ``'all'``.
- Resources: all of aupsite's, free (a snapshot of history holds no resource).

The file is written beside its destination and moved into place when complete, so a
failed export leaves no partial file, and an existing file is only replaced when asked.
"""

import contextlib
import copy
import json
import os
import sqlite3
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model

from tracking.interface import ID_RANGE, config_label_names
from tracking.interop import schema
from tracking.models import (
    Experiment,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResultLabel,
)

BATCH_SIZE = 2000


class ExportFailed(Exception):
    """Nothing was exported; the message says why."""


def exported_score(number, text):
    """A score's (number, text) columns as one value for a REAL column of Auptimizer's."""
    if text is None:
        return number
    if text in ("inf", "-inf"):
        return float(text)
    return text  # 'nan' and real text stay text


def exported_config(experiment, labels, with_name):
    config = copy.deepcopy(experiment.config) if isinstance(experiment.config, dict) else {}
    if not with_name and (experiment.name is not None or "name" in config):
        config["name"] = experiment.name
    if labels and labels != config_label_names(config):
        resource_args = config.get("resource_args")
        if not isinstance(resource_args, dict):
            resource_args = config["resource_args"] = {}
        resource_args["multi_res_labels"] = labels
    return json.dumps(config)


def export_database(path, experiment_ids=None, with_name=False, force=False, progress=None, using="default"):
    """Write aupsite's experiments (all, or those of `experiment_ids`) to `path`; return the counts."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ExportFailed(f"{path} exists and is not a file")
    if path.exists() and not force:
        raise ExportFailed(f"{path} exists; use --force to replace it")
    if not path.parent.is_dir():
        raise ExportFailed(f"{path.parent} is not a folder")
    experiments = Experiment.objects.using(using).order_by("pk")
    if experiment_ids:
        wanted = sorted(set(experiment_ids))
        # An id past 64 bits names no experiment (and no database could compare it).
        experiments = experiments.filter(pk__in=[eid for eid in wanted if eid in ID_RANGE])
        missing = sorted(set(wanted) - set(experiments.values_list("pk", flat=True)))
        if missing:
            raise ExportFailed(f"no experiment {', '.join(map(str, missing))} in aupsite")
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportFailed(f"cannot write in {path.parent}: {exc}") from None
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary)
        try:
            counts = _Export(connection, experiments, with_name, progress, using).run()
            connection.commit()
        finally:
            connection.close()
        _move_into_place(temporary, path, force)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return counts


def _move_into_place(temporary, path, force):
    if force:
        os.replace(temporary, path)
        return
    # A hard link fails if the name was taken meanwhile: never clobber without --force.
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise ExportFailed(f"{path} exists; use --force to replace it") from None
    except OSError:  # no hard links on this file system
        if path.exists():
            raise ExportFailed(f"{path} exists; use --force to replace it") from None
        os.replace(temporary, path)
        return
    os.unlink(temporary)


class _Export:
    def __init__(self, connection, experiments, with_name, progress, using):
        self.connection = connection
        self.experiments = experiments
        self.with_name = with_name
        self.progress = progress or (lambda table, done, total: None)
        self.using = using
        self.counts = {}

    def objects(self, model):
        return model._default_manager.db_manager(self.using)

    def insert(self, table, columns, rows, total=None):
        """Insert `rows` (an iterable of tuples) in batches; return the count."""
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        done, batch = 0, []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH_SIZE:
                self.connection.executemany(statement, batch)
                done += len(batch)
                batch = []
                self.progress(table, done, total)
        self.connection.executemany(statement, batch)
        done += len(batch)
        self.progress(table, done, total)
        self.counts[table] = done
        return done

    def run(self):
        schema.create_schema(self.connection, with_name=self.with_name)
        experiments = list(self.experiments)
        eids = {experiment.pk for experiment in experiments}
        owners = {experiment.owner_id for experiment in experiments}
        users = self.objects(get_user_model()).filter(pk__in=owners).order_by("pk").values_list("pk", "username")
        self.insert("user", ("uid", "name", "permission"), ((pk, name, "all") for pk, name in users))
        resources = self.objects(Resource).order_by("pk").values_list("pk", "name", "type")
        self.insert("resource", ("rid", "name", "type", "status"), ((pk, name, rtype, "free") for pk, name, rtype in resources))

        labels = {}
        for eid, name in (
            self.objects(ResultLabel).filter(experiment__in=eids).order_by("experiment", "label_order")
            .values_list("experiment_id", "name")
        ):
            labels.setdefault(eid, []).append(name)
        columns = ("eid", "uid") + (("name",) if self.with_name else ()) + (
            "start_time", "end_time", "status", "exp_config", "error_msg",
        )
        self.insert(
            "experiment",
            columns,
            (
                (experiment.pk, experiment.owner_id)
                + ((experiment.name,) if self.with_name else ())
                + (
                    schema.to_unix(experiment.start_time),
                    schema.to_unix(experiment.end_time),
                    experiment.status,
                    exported_config(experiment, labels.get(experiment.pk), self.with_name),
                    experiment.error_msg,
                )
                for experiment in experiments
            ),
            len(experiments),
        )

        # Rows are read table by table while executors may still be writing: each table
        # keeps only rows whose parents were exported, so the file is always consistent.
        jobs = self.objects(Job).filter(experiment__in=eids)
        jids = set()

        def job_rows():
            for pk, number, text, eid, start, end, status, config in jobs.order_by("pk").values_list(
                "pk", "score", "score_text", "experiment_id", "start_time", "end_time", "status", "config"
            ).iterator(chunk_size=BATCH_SIZE):
                jids.add(pk)
                yield (
                    pk, exported_score(number, text), eid, schema.to_unix(start), schema.to_unix(end), status,
                    json.dumps(config),
                )

        self.insert(
            "job", ("jid", "score", "eid", "start_time", "end_time", "status", "job_config"), job_rows(), jobs.count()
        )

        attempts = self.objects(JobAttempt).filter(job__experiment__in=eids)
        self.insert(
            "job_attempt",
            ("jaid", "jid", "num", "rid", "start_time", "end_time"),
            (
                (pk, jid, number, rid, schema.to_unix(start), schema.to_unix(end))
                for pk, jid, number, rid, start, end in attempts.order_by("pk").values_list(
                    "pk", "job_id", "number", "resource_id", "start_time", "end_time"
                ).iterator(chunk_size=BATCH_SIZE)
                if jid in jids
            ),
            attempts.count(),
        )

        results = self.objects(IntermediateResult).filter(job__experiment__in=eids)
        irids = set()

        def intermediate_rows():
            for pk, number, value, text, jid, received in results.order_by("pk").values_list(
                "pk", "number", "score", "score_text", "job_id", "receive_time"
            ).iterator(chunk_size=BATCH_SIZE):
                if jid in jids:
                    irids.add(pk)
                    yield (pk, number, exported_score(value, text), jid, schema.to_unix(received))

        self.insert("intermediate_result", ("irid", "num", "score", "jid", "receive_time"), intermediate_rows(), results.count())

        labeled = self.objects(MultipleResult).filter(experiment__in=eids)
        self.insert(
            "multiple_result",
            ("mrid", "label_order", "value", "receive_time", "jid", "irid", "eid", "is_last_result"),
            (
                (
                    pk, order, exported_score(value, text), schema.to_unix(received), jid,
                    irid if irid in irids else None, eid, int(last),
                )
                for pk, order, value, text, received, jid, irid, eid, last in labeled.order_by("pk").values_list(
                    "pk", "label_order", "value", "value_text", "receive_time", "job_id", "intermediate_result_id",
                    "experiment_id", "is_last",
                ).iterator(chunk_size=BATCH_SIZE)
                if jid in jids
            ),
            labeled.count(),
        )
        return self.counts
