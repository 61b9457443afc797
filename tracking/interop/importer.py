"""Import an Auptimizer SQLite database into aupsite (``manage.py aup_import``).

Every experiment of the file comes in with its jobs, attempts, intermediate results and
labeled results, in one transaction: a file that fails anywhere leaves aupsite as it
was. What the file says is kept as it says it:

- Scores: floats, NULL, text such as ``'EARLY STOPPED'`` and the ``-999`` that
  Auptimizer's reset writes into jobs that had not ended (a number: the database does
  not say which -999 came from a reset). Statuses as they are, RUNNING included.
- Times: Unix seconds become aware UTC datetimes.
- Label names: ``resource_args.multi_res_labels`` of each experiment's config.

Decisions where a file can say less than aupsite needs:

- Users are matched by name (``user_map`` renames them first); a missing one is created
  without a usable password, as ``manage.py aup_setup`` does. Only the owners of
  imported experiments are looked at.
- Resources are matched as ``manage.py aup_setup`` matches them: by type and name, the
  n-th of the file's resources of a (type, name) to the n-th of aupsite's. Those missing
  are created out of service: they are history of where attempts ran, and an admin
  decides whether executors may use them.
- Names stay unique as the connector keeps them: an imported "toy" that aupsite already
  has becomes "toy (1)" (in the 2.0 schema, the name in the config too).
- Attempts and intermediate results are numbered 0, 1, 2... per job in the file's
  order (number, then id), which is what the file says unless it has gaps or repeats.
- A link to a missing optional row (an attempt's resource, a labeled result's
  intermediate result) becomes empty; a missing required one (an experiment's user, a
  job's experiment, a result's job) makes the file invalid.
- What aupsite cannot store or show is refused, naming the row and column: text with
  a NUL character or a lone surrogate (a JSON escape such as ``"\\udfff"``), configs
  nested deeper than ``tracking.interface.MAX_NESTING``, ids that are not whole numbers,
  and label names longer than aupsite keeps (255 characters, as the connector refuses
  them): never cut, never stored in a form a page could not render.
- Provenance: each imported experiment gets an ImportedExperiment fingerprint, so
  importing the same file (or a copy, or a later version) again adds only the
  experiments not imported yet.
"""

import hashlib
import json
import math
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from tracking.interface import MAX_LABELS, MAX_NESTING, InvalidInputError, check_storable, config_label_names
from tracking.interop import schema
from tracking.models import (
    Experiment,
    ImportedExperiment,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResultLabel,
    json_value,
    unique_name,
)
from tracking.scores import ScoreTypeError, encode_score

BATCH_SIZE = 2000
NAME_MAX_LENGTH = Experiment._meta.get_field("name").max_length
LABEL_MAX_LENGTH = ResultLabel._meta.get_field("name").max_length


class ImportFailed(Exception):
    """The file cannot be imported; nothing was written. The message says why."""


@dataclass
class ImportReport:
    experiments: int = 0
    skipped_experiments: int = 0
    jobs: int = 0
    attempts: int = 0
    intermediate_results: int = 0
    multiple_results: int = 0
    resources_created: int = 0
    users_created: list = field(default_factory=list)
    renamed: list = field(default_factory=list)  # (name in the file, name in aupsite)
    running: int = 0  # experiments and jobs imported with status RUNNING


def import_database(path, user_map=None, progress=None, using="default"):
    """Import the Auptimizer database at `path`; return an ImportReport or raise ImportFailed.

    `user_map` renames the file's users ({name in the file: aupsite user name});
    `progress(table, done, total)` is called as rows are written.
    """
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if not path.is_file():
        raise ImportFailed(f"{path} is not a file")
    if not connections[using].features.can_return_rows_from_bulk_insert:
        raise ImportFailed("importing needs PostgreSQL or SQLite 3.35 or newer as aupsite's database")
    try:
        source = schema.open_read_only(path)
    except schema.NotAuptimizerDatabase as exc:
        raise ImportFailed(str(exc)) from None
    try:
        layout = schema.inspect(source, path)
        with transaction.atomic(using=using):
            return _Import(source, layout, path, dict(user_map or {}), progress, using).run()
    except schema.NotAuptimizerDatabase as exc:
        raise ImportFailed(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise ImportFailed(f"{path} cannot be read: {exc}") from None
    finally:
        source.close()


def _fingerprint(eid, owner, start_time, name_column, exp_config):
    # A value JSON has no form for (a BLOB where a time belongs) is hashed as its bytes;
    # the import then refuses it, with the row and column.
    digest = hashlib.sha256(
        json.dumps([eid, owner, start_time, name_column], default=_blob_as_hex).encode("utf-8", "surrogatepass")
    )
    digest.update(b"\0")
    if isinstance(exp_config, str):
        digest.update(exp_config.encode("utf-8", "surrogatepass"))
    elif isinstance(exp_config, bytes):
        digest.update(exp_config)
    return digest.hexdigest()


def _shown_path(path):
    """The file's path as text aupsite can store: a name that is not UTF-8 (which Python
    holds as lone surrogates) has U+FFFD where its odd bytes were."""
    return os.fsencode(path).decode("utf-8", errors="replace")


def _blob_as_hex(value):
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Import:
    def __init__(self, source, layout, path, user_map, progress, using):
        self.source = source
        self.layout = layout
        self.path = path
        self.user_map = user_map
        self.progress = progress or (lambda table, done, total: None)
        self.using = using
        self.report = ImportReport()
        self.now = timezone.now()

    # -- helpers ------------------------------------------------------------------------

    def fail(self, where, message):
        raise ImportFailed(f"{self.path}: {where}: {message}")

    def objects(self, model):
        return model._default_manager.db_manager(self.using)

    def count(self, table):
        return self.source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def rows(self, query):
        cursor = self.source.execute(query)
        while batch := cursor.fetchmany(BATCH_SIZE):
            yield from batch

    def time(self, value, where, column):
        try:
            return schema.to_datetime(value)
        except ValueError as exc:
            self.fail(where, f"{column}: {exc}")

    def score(self, value, where, column):
        if isinstance(value, str):
            self.storable(value, where, column)  # named by its column, before encode_score's own words
        try:
            number, text = encode_score(value)
        except ScoreTypeError:
            self.fail(where, f"{column} must be a number, text or NULL, not {type(value).__name__}")
        return number, text

    def json_object(self, value, where, column, any_value=False):
        """The JSON text `value` parsed: an object ({} for NULL), or with `any_value` any
        JSON value (a job's config, which Auptimizer stores whatever it is)."""
        if value is None:
            return {}
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(where, f"{column} is not UTF-8 text")
        if not isinstance(value, str):
            self.fail(where, f"{column} is not JSON text")

        def refuse_constant(constant):  # NaN and infinities: PostgreSQL's JSON has no such thing
            raise ValueError(f"{constant} is not JSON")

        def finite(text):  # 1e999 would be read as an infinity
            number = float(text)
            if not math.isfinite(number):
                raise ValueError(f"{text} is not a finite number")
            return number

        try:
            parsed = json.loads(value, parse_constant=refuse_constant, parse_float=finite)
        except ValueError as exc:
            self.fail(where, f"{column} is not valid JSON ({exc})")
        except RecursionError:
            self.fail(where, f"{column} nests more than {MAX_NESTING} levels of lists or dicts")
        if not any_value and not isinstance(parsed, dict):
            self.fail(where, f"{column} must be a JSON object")
        return self.storable(parsed, where, column)

    def storable(self, value, where, column):
        """`value` if aupsite can store and show it (tracking.interface.check_storable)."""
        try:
            return check_storable(value, column)
        except InvalidInputError as exc:
            self.fail(where, str(exc))

    def text(self, value, where, column):
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif isinstance(value, (int, float)):
            value = str(value)
        elif value is not None and not isinstance(value, str):
            self.fail(where, f"{column} must be text")
        return self.storable(value, where, column)

    def bulk_insert(self, model, objects, table, done, total):
        self.objects(model).bulk_create(objects, batch_size=BATCH_SIZE)
        self.progress(table, done, total)

    # -- the import ---------------------------------------------------------------------

    def run(self):
        experiments = self.read_experiments()
        experiments = self.skip_imported(experiments)
        owners = self.resolve_users(experiments)
        resources = self.match_resources()
        eids = self.create_experiments(experiments, owners)
        jids, skipped_jids = self.create_jobs(eids)
        self.create_attempts(jids, skipped_jids, resources)
        irids = self.create_intermediate_results(jids, skipped_jids)
        if self.layout.has_multiple_result:
            self.create_multiple_results(jids, skipped_jids, irids)
        return self.report

    def read_experiments(self):
        name_column = ", name" if self.layout.has_experiment_name else ", NULL"
        users = dict(self.source.execute("SELECT uid, name FROM user"))
        experiments = []
        for eid, uid, start, end, status, config, error, name_column_value in self.source.execute(
            "SELECT eid, uid, start_time, end_time, status, exp_config, error_msg"
            f"{name_column} FROM experiment ORDER BY eid"
        ):
            where = f"experiment {eid!r}"
            if isinstance(eid, bool) or not isinstance(eid, int):
                self.fail(where, f"eid must be a whole number, not {eid!r}")
            if uid not in users:
                self.fail(where, f"its user (uid {uid}) is not in the user table")
            owner = users[uid]
            if not isinstance(owner, str) or not owner:
                self.fail(where, f"its user (uid {uid}) has no name")
            self.storable(owner, where, f"the name of its user (uid {uid})")
            experiments.append(
                {
                    "eid": eid,
                    "owner": owner,
                    "start": start,
                    "end": end,
                    "status": status,
                    "config": config,
                    "error": error,
                    "name_column": name_column_value,
                    "fingerprint": _fingerprint(eid, owner, start, name_column_value, config),
                }
            )
        self.all_eids = {experiment["eid"] for experiment in experiments}
        self.file_users = {name for name in users.values() if isinstance(name, str)}
        return experiments

    def skip_imported(self, experiments):
        fingerprints = [experiment["fingerprint"] for experiment in experiments]
        done = set(
            self.objects(ImportedExperiment)
            .filter(fingerprint__in=fingerprints)
            .values_list("fingerprint", flat=True)
        )
        self.report.skipped_experiments = len(done)
        return [experiment for experiment in experiments if experiment["fingerprint"] not in done]

    def resolve_users(self, experiments):
        """{name in the file: aupsite user id} for the owners of `experiments`."""
        unknown = sorted(set(self.user_map) - self.file_users)
        if unknown:
            raise ImportFailed(f"--user-map: {self.path} has no user {', '.join(map(repr, unknown))}")
        User = get_user_model()
        names = {experiment["owner"] for experiment in experiments}
        targets = {name: self.user_map.get(name, name) for name in names}
        existing = dict(
            self.objects(User).filter(username__in=set(targets.values())).values_list("username", "pk")
        )
        owners = {}
        for name in sorted(names):
            target = targets[name]
            if target not in existing:
                if name in self.user_map:
                    raise ImportFailed(f"--user-map {name}={target}: aupsite has no user {target!r}")
                existing[target] = self.create_user(target)
            owners[name] = existing[target]
        return owners

    def create_user(self, username):
        User = get_user_model()
        user = User(username=username)
        user.set_unusable_password()
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise ImportFailed(
                f"{self.path}: user {username!r} cannot be an aupsite user ({' '.join(exc.messages)}); "
                f"map it to another name with --user-map '{username}=NAME'"
            ) from None
        user.save(using=self.using)
        self.report.users_created.append(username)
        return user.pk

    def match_resources(self):
        """{rid in the file: aupsite resource id}, creating what is missing (out of service)."""
        available = {}
        for pk, rtype, name in self.objects(Resource).order_by("pk").values_list("pk", "type", "name"):
            available.setdefault((rtype, name), []).append(pk)
        matched, missing = {}, []
        for rid, name, rtype in self.source.execute("SELECT rid, name, type FROM resource ORDER BY rid"):
            where = f"resource {rid}"
            name, rtype = self.text(name, where, "name"), self.text(rtype, where, "type")
            if not rtype:
                self.fail(where, "it has no type")
            name = name or ""
            if len(rtype) > 64 or len(name) > 255:
                self.fail(where, "its type or name is too long for aupsite (64 and 255 characters)")
            pool = available.get((rtype, name))
            if pool:
                matched[rid] = pool.pop(0)
            else:
                missing.append((rid, Resource(type=rtype, name=name, in_service=False)))
        if missing:
            self.objects(Resource).bulk_create([resource for _, resource in missing])
            matched.update((rid, resource.pk) for rid, resource in missing)
            self.report.resources_created = len(missing)
        return matched

    def create_experiments(self, experiments, owners):
        taken = set(self.objects(Experiment).filter(name__isnull=False).values_list("name", flat=True))
        created = []
        for source in experiments:
            where = f"experiment {source['eid']}"
            config = self.json_object(source["config"], where, "exp_config")
            if self.layout.has_experiment_name:
                name = source["name_column"]
            else:
                name = config.get("name")
            if name is not None and not isinstance(name, str):
                self.fail(where, f"its name must be text, not {name!r}")
            self.storable(name, where, "its name")
            labels = config_label_names(config)
            if len(labels) > MAX_LABELS:
                self.fail(
                    where, f"resource_args.multi_res_labels names {len(labels)} labels; aupsite keeps at most {MAX_LABELS}"
                )
            for label in labels:
                if len(label) > LABEL_MAX_LENGTH:
                    self.fail(
                        where,
                        f"a label name of resource_args.multi_res_labels is {len(label)} characters long; "
                        f"aupsite keeps at most {LABEL_MAX_LENGTH}",
                    )
            unique = unique_name(name, taken)
            if unique is not None:
                if len(unique) > NAME_MAX_LENGTH:
                    self.fail(where, f"its name is longer than {NAME_MAX_LENGTH} characters")
                taken.add(unique)
            if unique != name:
                self.report.renamed.append((name, unique))
                if not self.layout.has_experiment_name:
                    config["name"] = unique  # as the connector: the 2.0 config carries the name
            if source["status"] not in schema.EXPERIMENT_STATUSES:
                self.fail(where, f"status {source['status']!r} is not one of Auptimizer's")
            if source["status"] == "RUNNING":
                self.report.running += 1
            experiment = Experiment(
                owner_id=owners[source["owner"]],
                name=unique,
                config=config,
                status=source["status"],
                start_time=self.time(source["start"], where, "start_time"),
                end_time=self.time(source["end"], where, "end_time"),
                error_msg=self.text(source["error"], where, "error_msg"),
            )
            created.append((source, experiment))
        self.objects(Experiment).bulk_create([experiment for _, experiment in created], batch_size=BATCH_SIZE)
        self.objects(ImportedExperiment).bulk_create(
            [
                ImportedExperiment(
                    experiment_id=experiment.pk,
                    fingerprint=source["fingerprint"],
                    source_eid=source["eid"],
                    source_file=_shown_path(self.path.resolve()),
                    imported_at=self.now,
                )
                for source, experiment in created
            ],
            batch_size=BATCH_SIZE,
        )
        self.objects(ResultLabel).bulk_create(
            [
                ResultLabel(experiment_id=experiment.pk, label_order=order, name=label)
                for _, experiment in created
                for order, label in enumerate(config_label_names(experiment.config), start=1)
            ],
            batch_size=BATCH_SIZE,
        )
        self.report.experiments = len(created)
        self.progress("experiment", len(created), len(created))
        return {source["eid"]: experiment.pk for source, experiment in created}

    def create_jobs(self, eids):
        """{jid: (aupsite job id, aupsite experiment id)} and the jids of skipped experiments."""
        total = self.count("job")
        jids, skipped, batch, done = {}, set(), [], 0
        # Numbered 1, 2, ... within each experiment in the file's jid order, the order
        # Auptimizer started them (each imported experiment is new, so it starts at 1).
        numbers = {}
        for jid, score, eid, start, end, status, config in self.rows(
            "SELECT jid, score, eid, start_time, end_time, status, job_config FROM job ORDER BY jid"
        ):
            done += 1
            where = f"job {jid}"
            if eid not in eids:
                if eid not in self.all_eids:
                    self.fail(where, f"its experiment {eid} is not in the experiment table")
                skipped.add(jid)
                continue
            if status is not None and status not in schema.JOB_STATUSES:
                self.fail(where, f"status {status!r} is not one of Auptimizer's")
            if status == "RUNNING":
                self.report.running += 1
            number, text = self.score(score, where, "score")
            numbers[eid] = numbers.get(eid, 0) + 1
            job = Job(
                experiment_id=eids[eid],
                number=numbers[eid],
                config=json_value(self.json_object(config, where, "job_config", any_value=True)),
                score=number,
                score_text=text,
                status=status,
                start_time=self.time(start, where, "start_time"),
                end_time=self.time(end, where, "end_time"),
            )
            batch.append((jid, job))
            if len(batch) == BATCH_SIZE:
                self.flush_jobs(batch, jids, done, total)
                batch = []
        self.flush_jobs(batch, jids, done, total)
        return jids, skipped

    def flush_jobs(self, batch, jids, done, total):
        self.bulk_insert(Job, [job for _, job in batch], "job", done, total)
        jids.update((jid, (job.pk, job.experiment_id)) for jid, job in batch)
        self.report.jobs += len(batch)

    def job_of(self, jid, jids, skipped, where):
        """The aupsite (job id, experiment id) of a file's jid; None for a skipped experiment's job."""
        if jid in jids:
            return jids[jid]
        if jid in skipped:
            return None
        self.fail(where, f"its job {jid} is not in the job table")

    def create_attempts(self, jids, skipped, resources):
        total = self.count("job_attempt")
        batch, done, number, last_jid = [], 0, 0, object()
        for jaid, jid, rid, start, end in self.rows(
            "SELECT jaid, jid, rid, start_time, end_time FROM job_attempt ORDER BY jid, num IS NULL, num, jaid"
        ):
            done += 1
            where = f"job attempt {jaid}"
            job = self.job_of(jid, jids, skipped, where)
            if job is None:
                continue
            number = number + 1 if jid == last_jid else 0
            last_jid = jid
            batch.append(
                JobAttempt(
                    job_id=job[0],
                    number=number,
                    resource_id=resources.get(rid),
                    start_time=self.time(start, where, "start_time"),
                    end_time=self.time(end, where, "end_time"),
                )
            )
            if len(batch) == BATCH_SIZE:
                self.bulk_insert(JobAttempt, batch, "job_attempt", done, total)
                self.report.attempts += len(batch)
                batch = []
        self.bulk_insert(JobAttempt, batch, "job_attempt", done, total)
        self.report.attempts += len(batch)

    def create_intermediate_results(self, jids, skipped):
        """{irid: (aupsite intermediate result id, file jid)}."""
        total = self.count("intermediate_result")
        irids, batch, done, number, last_jid = {}, [], 0, 0, object()
        for irid, jid, score, received in self.rows(
            "SELECT irid, jid, score, receive_time FROM intermediate_result ORDER BY jid, num IS NULL, num, irid"
        ):
            done += 1
            where = f"intermediate result {irid}"
            job = self.job_of(jid, jids, skipped, where)
            if job is None:
                continue
            if received is None:
                self.fail(where, "it has no receive_time")
            number = number + 1 if jid == last_jid else 0
            last_jid = jid
            value, text = self.score(score, where, "score")
            result = IntermediateResult(
                job_id=job[0],
                number=number,
                score=value,
                score_text=text,
                receive_time=self.time(received, where, "receive_time"),
            )
            batch.append((irid, jid, result))
            if len(batch) == BATCH_SIZE:
                self.flush_intermediate_results(batch, irids, done, total)
                batch = []
        self.flush_intermediate_results(batch, irids, done, total)
        return irids

    def flush_intermediate_results(self, batch, irids, done, total):
        self.bulk_insert(IntermediateResult, [result for *_, result in batch], "intermediate_result", done, total)
        irids.update((irid, (result.pk, jid)) for irid, jid, result in batch)
        self.report.intermediate_results += len(batch)

    def create_multiple_results(self, jids, skipped, irids):
        total = self.count("multiple_result")
        batch, done = [], 0
        for mrid, order, value, received, jid, irid, eid, is_last in self.rows(
            "SELECT mrid, label_order, value, receive_time, jid, irid, eid, is_last_result "
            "FROM multiple_result ORDER BY mrid"
        ):
            done += 1
            where = f"multiple result {mrid}"
            job = self.job_of(jid, jids, skipped, where)
            if job is None:
                continue
            if isinstance(order, bool) or not isinstance(order, int) or order < 1:
                self.fail(where, f"label_order must be a whole number of at least 1, not {order!r}")
            if received is None:
                self.fail(where, "it has no receive_time")
            number, text = self.score(value, where, "value")
            # Linked only to an intermediate result of the same job, as the connector links them.
            linked = irids.get(irid)
            batch.append(
                MultipleResult(
                    job_id=job[0],
                    experiment_id=job[1],
                    intermediate_result_id=linked[0] if linked and linked[1] == jid else None,
                    label_order=order,
                    value=number,
                    value_text=text,
                    receive_time=self.time(received, where, "receive_time"),
                    is_last=bool(is_last),
                )
            )
            if len(batch) == BATCH_SIZE:
                self.bulk_insert(MultipleResult, batch, "multiple_result", done, total)
                self.report.multiple_results += len(batch)
                batch = []
        self.bulk_insert(MultipleResult, batch, "multiple_result", done, total)
        self.report.multiple_results += len(batch)
