"""DjangoConnector: Auptimizer's experiment-tracking interface over the Django ORM.

An executor (Auptimizer's ``Experiment``, or any tuning loop) writes through it straight
into the dashboard's database::

    os.environ["DJANGO_SETTINGS_MODULE"] = "aupsite.settings"   # the default
    from tracking.connector import DjangoConnector
    connector = DjangoConnector()

Importing this module sets Django up when the process has not (tracking.standalone), so
a plain Python process needs nothing else. It never imports Auptimizer.

Concurrency: one instance is shared by many threads, many processes write at once.
There is no lock in this process: each thread uses its own database connection
(Django's connections are per thread; a thread's connection is reused across calls and
closed when the thread ends), writes are short transactions (IMMEDIATE on SQLite, so
writers queue on the busy timeout), and the one contended row, a resource, changes
status by compare-and-set. Numbers of a job's steps and attempts, and of an
experiment's jobs, are "last + 1", taken while their writers are serialised (SQLite's
database lock; on PostgreSQL the job row's lock, see _lock_job, or the experiment row's,
see _lock_experiment_jobs) and guarded by unique constraints.
"""

# First, for its side effect: an executor imports this module in a plain Python process,
# where Django is not set up yet, and the imports below need the app registry.
import tracking.standalone  # noqa: F401

import functools
import json
import uuid

from django.contrib.auth import get_user_model
from django.db import Error as DjangoDatabaseError
from django.db import IntegrityError, connections, transaction
from django.db.models import Case, F, Max, Min, Q, Value, When
from django.db.models.functions import StrIndex
from django.utils import timezone

from tracking.scores import ScoreTypeError, decode_score, encode_score
from tracking.interface import BackendError, ConnectorClosedError, ConnectorError, InvalidInputError, NotFoundError
from tracking.interface import AbstractConnector, config_label_names, parse_experiment_call
from tracking.interface import check_experiment_status, check_job_status, check_text
from tracking.interface import check_labels, check_num_labels, check_scores
from tracking.interface import check_resource_query, check_results_query, lookup_ids
from tracking.interface import check_id as _id
from tracking.interface import check_job_config as _job_config
from tracking.interface import lookup_id as _lookup_id
from tracking.models import (
    Experiment,
    ExperimentStatus,
    IntermediateResult,
    Job,
    JobAttempt,
    JobStatus,
    MultipleResult,
    Resource,
    ResourceStatus,
    ResultLabel,
    json_value,
    next_job_number,
)

# How often a write that lost a race on a unique constraint is tried again (experiment
# names; numbering is serialised by _lock_job and _lock_experiment_jobs, so there this
# is only a safety net).
CONFLICT_RETRIES = 20


def connector_method(allowed_when_closed=False):
    """Wrap a public method: refuse calls after close(), keep the thread's connection
    usable, and turn database errors into the interface's own exceptions."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._closed and not allowed_when_closed:
                raise ConnectorClosedError(f"{method.__name__}: this connector has been closed")
            self._drop_broken_connection()
            try:
                return method(self, *args, **kwargs)
            except ConnectorError:
                raise
            except ScoreTypeError as exc:
                raise InvalidInputError(f"{method.__name__}: {exc}") from None
            except DjangoDatabaseError as exc:
                raise BackendError(f"{method.__name__}: the database failed: {exc}") from exc

        return wrapper

    return decorate


def _unix_seconds(moment):
    return None if moment is None else int(moment.timestamp())


def unknown_user(username):
    """The error for a username no user has. The API answers a researcher who names another
    user with this same error, so that an answer never tells who has an account."""
    return NotFoundError(f"user {username!r} does not exist; an admin creates it (or run manage.py aup_setup)")


# -- the executor's two hot paths ---------------------------------------------------
# save_intermediate_result and save_multiple_results run once per step of every job, so
# each is one statement, sent straight to the database driver (see _execute_on_driver).
# The ORM would take three or four queries for each.


def _execute_on_driver(connection, sql, params, read):
    """Run one hot-path statement on the driver's own cursor and return read(cursor).

    Django's cursor wrapper costs as much as SQLite's insert itself: it rewrites the
    placeholders of every query and runs the query-logging hooks. These statements are
    written once in the driver's placeholder style and executed directly, so they do not
    show in connection.queries. Errors still become django.db errors, and a transaction
    that is already broken is refused, as Django's own cursor does.

    On PostgreSQL the statement is prepared once per connection (psycopg's server-side
    binding), which halves the server's work for each call. A pooler in front of
    PostgreSQL must then keep prepared statements per client (pgbouncer 1.21 and later,
    with max_prepared_statements set), or run in session mode.
    """
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            import psycopg

            cursor = psycopg.Cursor(connection.connection)
            cursor.execute(sql, params, prepare=True)
        else:
            cursor = connection.connection.cursor()
            cursor.execute(sql, params)
        try:
            return read(cursor)
        finally:
            cursor.close()


# PostgreSQL: the function of migration 0007 locks the job and inserts its next step.
_NEXT_STEP_FUNCTION_CALL = (
    "SELECT tracking_save_intermediate_result(%s::bigint, %s::double precision, %s::text, %s::timestamptz)"
)


@functools.cache
def _sqlite_next_step_insert():
    # The step number is computed from the job's last step (the unique (job, number)
    # index answers MAX at once), and an unknown job inserts nothing.
    table = IntermediateResult._meta.db_table
    return (
        f"INSERT INTO {table} (job_id, number, score, score_text, receive_time) "
        f"SELECT j.id, COALESCE((SELECT MAX(r.number) FROM {table} r WHERE r.job_id = j.id), -1) + 1, "
        f"?, ?, ? FROM {Job._meta.db_table} j WHERE j.id = ?"
    )


@functools.lru_cache(maxsize=64)  # one statement per number of labels
def _multiple_results_insert(vendor, count):
    # The job row supplies the links, so the rows are inserted only if the job exists,
    # belongs to eid and owns irid (when given); when fewer than `count` rows were
    # inserted, _check_result_links says which id was wrong.
    values = " UNION ALL ".join(
        f"SELECT {order} AS label_order, CAST(%s AS DOUBLE PRECISION) AS value, CAST(%s AS TEXT) AS value_text"
        for order in range(1, count + 1)
    )
    sql = (
        f"INSERT INTO {MultipleResult._meta.db_table} "
        "(job_id, intermediate_result_id, experiment_id, label_order, value, value_text, receive_time, is_last) "
        "SELECT j.id, r.id, j.experiment_id, v.label_order, v.value, v.value_text, %s, FALSE "
        f"FROM {Job._meta.db_table} j "
        f"LEFT JOIN {IntermediateResult._meta.db_table} r ON r.id = %s AND r.job_id = j.id "
        f"CROSS JOIN ({values}) v "
        "WHERE j.id = %s AND j.experiment_id = %s AND (CAST(%s AS BIGINT) IS NULL OR r.id IS NOT NULL)"
    )
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


# -- issue 14 (fastpath): the names an experiment's labels 1..n have, in order.
def _label_names_select(vendor):
    sql = (
        f"SELECT name FROM {ResultLabel._meta.db_table} "
        "WHERE experiment_id = %s AND label_order BETWEEN 1 AND %s ORDER BY label_order"
    )
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


# -- end of issue 14 (fastpath)


class DjangoConnector(AbstractConnector):
    """The connector interface over the ORM; see tracking.interface for each method's contract."""

    def __init__(self, using="default", holder=None):
        if using not in connections:
            raise InvalidInputError(f"no database {using!r} in settings.DATABASES")
        self.using = using
        # Marks the resources this instance takes, so free_all_resources frees only those.
        self.holder_id = holder or f"connector-{uuid.uuid4().hex}"
        self._closed = False
        # eid -> the label names this instance last wrote for it (see save_multiple_results).
        self._labels_written = {}

    def __repr__(self):
        return f"<DjangoConnector using={self.using!r}{' closed' if self._closed else ''}>"

    # -- plumbing ---------------------------------------------------------------------

    def _objects(self, model):
        return model.objects.using(self.using)

    def _atomic(self):
        return transaction.atomic(using=self.using)

    def _drop_broken_connection(self):
        # Only after an error, and only on this thread's connection: a healthy
        # connection is reused as it is (reconnecting costs more than the call).
        connection = connections[self.using]
        if connection.connection is not None and connection.errors_occurred and not connection.in_atomic_block:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()

    def _retry_on_conflict(self, write):
        # Two writers that computed the same next number collide on a unique
        # constraint; the loser computes again. Each try is its own transaction (or
        # savepoint), so a failed try leaves nothing behind.
        for attempt in range(CONFLICT_RETRIES):
            try:
                with self._atomic():
                    return write()
            except IntegrityError:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _user_id(self, username):
        check_text(username, "username")
        user_id = (
            get_user_model()._default_manager.db_manager(self.using)
            .filter(username=username)
            .values_list("pk", flat=True)
            .first()
        )
        if user_id is None:
            raise unknown_user(username)
        return user_id

    def _require(self, model, pk, what):
        if not self._objects(model).filter(pk=pk).exists():
            raise NotFoundError(f"{what} {pk} does not exist")

    def _lock_job(self, jid):
        """Serialise the writers that number a job's rows (its attempts and steps).

        Two writers computing "last number + 1" at once would both pick the same number.
        On PostgreSQL the job row's lock queues them, and the next statement (READ
        COMMITTED takes a new snapshot per statement) sees the previous writer's row.
        SQLite needs no lock: its writers are already serialised by the database lock.
        (Steps take the same lock inside one PostgreSQL function, migration 0007.)
        """
        if connections[self.using].features.has_select_for_update:
            locked = self._objects(Job).select_for_update().filter(pk=jid).values_list("pk", flat=True)
            if not list(locked):
                raise NotFoundError(f"job {jid} does not exist")
        else:
            self._require(Job, jid, "job")

    def _lock_experiment_jobs(self, eid):
        """Serialise the writers that number an experiment's jobs (next_job_number).

        On PostgreSQL the experiment row is locked FOR NO KEY UPDATE, in place of the
        existence check (the same one query): job creators queue on it, and the foreign
        keys' KEY SHARE locks of every other write (an attempt, a result) do not wait
        for it. SQLite's writers are already serialised by the database lock.
        """
        if connections[self.using].features.has_select_for_update:
            experiments = self._objects(Experiment).select_for_update(no_key=True)
            if not list(experiments.filter(pk=eid).values_list("pk", flat=True)):
                raise NotFoundError(f"experiment {eid} does not exist")
        else:
            self._require(Experiment, eid, "experiment")

    def _experiment_id_of_job(self, jid):
        eid = self._objects(Job).filter(pk=jid).values_list("experiment_id", flat=True).first()
        if eid is None:
            raise NotFoundError(f"job {jid} does not exist")
        return eid

    # -- lifetime ---------------------------------------------------------------------

    @connector_method(allowed_when_closed=True)
    def close(self):
        self._closed = True
        connection = connections[self.using]
        if not connection.in_atomic_block:
            connection.close()

    @connector_method(allowed_when_closed=True)
    def is_closed(self):
        return self._closed

    # -- experiments ------------------------------------------------------------------

    @connector_method()
    def start_experiment(self, username, *args, **kwargs):
        return self._new_experiment(username, args, kwargs, ExperimentStatus.RUNNING)

    @connector_method()
    def create_experiment(self, username, *args, **kwargs):
        return self._new_experiment(username, args, kwargs, ExperimentStatus.CREATED)

    def _new_experiment(self, username, args, kwargs, status):
        call = parse_experiment_call(args, kwargs)
        owner_id = self._user_id(username)

        def insert():
            name = self._objects(Experiment).name_for(call.name)
            config = call.config
            if call.caller_config is not None:
                # As Auptimizer 2.0, the stored config carries the unique name.
                config = {**config, "name": name}
            experiment = self._objects(Experiment).create(
                owner_id=owner_id,
                name=name,
                config=config,
                status=status,
                start_time=timezone.now() if status == ExperimentStatus.RUNNING else None,
            )
            self._objects(ResultLabel).bulk_create(
                ResultLabel(experiment=experiment, label_order=order, name=label)
                for order, label in enumerate(config_label_names(config), start=1)
            )
            return experiment

        # A concurrent writer may take the same name between our check and insert.
        experiment = self._retry_on_conflict(insert)
        if call.caller_config is not None:
            call.caller_config["name"] = experiment.name
        return experiment.pk

    @connector_method()
    def start_experiment_by_eid(self, eid):
        eid = _id(eid, "eid")
        with self._atomic():
            updated = self._objects(Experiment).filter(pk=eid).update(
                status=ExperimentStatus.RUNNING, start_time=timezone.now(), end_time=None, error_msg=None
            )
            if not updated:
                raise NotFoundError(f"experiment {eid} does not exist")
            self._objects(Job).filter(experiment_id=eid).delete()

    @connector_method()
    def end_experiment(self, eid, status="FINISHED"):
        eid = _id(eid, "eid")
        status = check_experiment_status(status)
        with self._atomic():
            if not self._objects(Experiment).filter(pk=eid).update(status=status, end_time=timezone.now()):
                raise NotFoundError(f"experiment {eid} does not exist")

    @connector_method()
    def change_experiment_status(self, eid, status="FINISHED"):
        eid = _id(eid, "eid")
        status = check_experiment_status(status)
        with self._atomic():
            if not self._objects(Experiment).filter(pk=eid).update(status=status):
                raise NotFoundError(f"experiment {eid} does not exist")

    @connector_method()
    def get_experiment_status(self, eid):
        return self._experiment_status(eid)

    @connector_method(allowed_when_closed=True)
    def maybe_get_experiment_status(self, eid):
        if self._closed:
            return None
        return self._experiment_status(eid)

    def _experiment_status(self, eid):
        eid = _id(eid, "eid")
        status = self._objects(Experiment).filter(pk=eid).values_list("status", flat=True).first()
        if status is None:
            raise NotFoundError(f"experiment {eid} does not exist")
        return status

    @connector_method()
    def delete_experiment(self, eid):
        try:
            eid = _id(eid, "eid")
        except NotFoundError:  # out of range: no such experiment
            return False
        with self._atomic():
            if not self._objects(Experiment).filter(pk=eid).exists():
                return False
            self._objects(Experiment).filter(pk=eid).delete()
        return True

    @connector_method()
    def log_error_message(self, eid, msg):
        eid = _id(eid, "eid")
        check_text(msg, "msg")
        with self._atomic():
            self._require(Experiment, eid, "experiment")
            self._objects(Experiment).filter(pk=eid).log_error(msg)

    @connector_method()
    def get_all_experiment(self, username=None):
        experiments = self._objects(Experiment)
        if username:  # as Auptimizer: None or "" means everyone's
            experiments = experiments.filter(owner_id=self._user_id(username))
        return list(experiments.order_by("pk").values_list("pk", flat=True))

    # -- jobs and attempts ------------------------------------------------------------

    @connector_method()
    def start_job(self, eid, rid, job_config):
        eid, rid, config = _id(eid, "eid"), _id(rid, "rid"), _job_config(job_config)
        return self._retry_on_conflict(lambda: self._start_job(eid, rid, config))

    def _start_job(self, eid, rid, config, take=False):
        self._lock_experiment_jobs(eid)
        self._require(Resource, rid, "resource")
        now = timezone.now()
        job = self._objects(Job).create(
            experiment_id=eid,
            number=next_job_number(eid),
            config=json_value(config),
            status=JobStatus.RUNNING,
            start_time=now,
        )
        attempt = self._objects(JobAttempt).create(job=job, number=0, resource_id=rid, start_time=now)
        self._hold_for(rid, attempt.pk, take)
        return job.pk

    @connector_method()
    def start_job_attempt(self, rid, jid):
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        return self._retry_on_conflict(lambda: self._start_job_attempt(rid, jid))

    def _start_job_attempt(self, rid, jid, take=False):
        self._lock_job(jid)
        self._require(Resource, rid, "resource")
        last = self._objects(JobAttempt).filter(job_id=jid).aggregate(last=Max("number"))["last"]
        attempt = self._objects(JobAttempt).create(
            job_id=jid, number=0 if last is None else last + 1, resource_id=rid, start_time=timezone.now()
        )
        self._hold_for(rid, attempt.pk, take)
        return attempt.pk

    def _hold_for(self, rid, attempt_id, take):
        """Record that attempt `attempt_id` holds resource `rid`, where it may: one UPDATE.

        With `take` (job_started, job_retry) the attempt takes the resource if it is free
        (compare-and-set, as take_available_resource). With or without, it adopts a take
        this same connector made without a job (take_available_resource, then start_job,
        as Auptimizer's run_job and the demo do). A resource someone else holds, or that
        another attempt holds, is left exactly as it is: the attempt is recorded there
        all the same (the executor runs it there), but ending it will not free it.
        """
        now = timezone.now()
        mine_unassigned = Q(status=ResourceStatus.BUSY, holder=self.holder_id, taken_by_attempt__isnull=True)
        if take:
            which = Q(status=ResourceStatus.FREE, in_service=True) | mine_unassigned
            taken_at = Case(When(status=ResourceStatus.FREE, then=Value(now)), default=F("taken_at"))
            self._objects(Resource).filter(which, pk=rid).update(
                status=ResourceStatus.BUSY, holder=self.holder_id, taken_at=taken_at, taken_by_attempt=attempt_id
            )
        else:
            self._objects(Resource).filter(mine_unassigned, pk=rid).update(taken_by_attempt=attempt_id)

    @connector_method()
    def end_job_attempt(self, jid):
        jid = _id(jid, "jid")
        with self._atomic():
            self._end_latest_attempt(jid)

    def _end_latest_attempt(self, jid):
        self._require(Job, jid, "job")
        latest = self._objects(JobAttempt).filter(job_id=jid).order_by("-number").values_list("pk", flat=True)[:1]
        self._objects(JobAttempt).filter(pk__in=list(latest)).update(end_time=timezone.now())

    @connector_method()
    def end_job(self, jid, score=None, status=None):
        jid = _id(jid, "jid")
        status = check_job_status(status)
        number, text = encode_score(score)
        with self._atomic():
            self._end_job(jid, number, text, status)

    def _end_job(self, jid, number, text, status):
        updated = self._objects(Job).filter(pk=jid).update(
            score=number, score_text=text, status=status, end_time=timezone.now()
        )
        if not updated:
            raise NotFoundError(f"job {jid} does not exist")

    @connector_method()
    def update_job_status(self, jid, status):
        jid = _id(jid, "jid")
        status = check_job_status(status)
        with self._atomic():
            if not self._objects(Job).filter(pk=jid).update(status=status):
                raise NotFoundError(f"job {jid} does not exist")

    @connector_method()
    def job_started(self, eid, rid, job_config):
        eid, rid, config = _id(eid, "eid"), _id(rid, "rid"), _job_config(job_config)
        # Recorded whether or not the take wins: the executor runs the job there.
        return self._retry_on_conflict(lambda: self._start_job(eid, rid, config, take=True))

    @connector_method()
    def job_finished(self, rid, jid, score=None, status=None):
        """End the job's latest attempt and the job, and free `rid` if that attempt holds
        it (it took it, in job_started / job_retry, or adopted this connector's own take)
        and still does. Any other resource is left as it is, whoever holds it, and the
        job's end is recorded all the same: a job cannot free a resource another job
        holds. Unknown rid or jid: NotFoundError, nothing written."""
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        status = check_job_status(status)
        number, text = encode_score(score)
        with self._atomic():
            self._free_for_job(rid, jid)
            self._end_latest_attempt(jid)
            self._end_job(jid, number, text, status)

    @connector_method()
    def job_failed(self, rid, jid):
        """End the job's latest attempt, and free `rid` if that attempt holds it (as
        job_finished: otherwise the resource is left as it is, the attempt still ends)."""
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        with self._atomic():
            self._free_for_job(rid, jid)
            self._end_latest_attempt(jid)

    def _free_for_job(self, rid, jid):
        # Before the attempt ends: held_by_attempt_of reads the latest attempt.
        if not self._objects(Resource).filter(pk=rid).held_by_attempt_of(jid).mark_free():
            self._require(Resource, rid, "resource")

    @connector_method()
    def job_retry(self, rid, jid):
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        return self._retry_on_conflict(lambda: self._start_job_attempt(rid, jid, take=True))

    @connector_method()
    def get_running_job(self, eid):
        eid = _lookup_id(eid, "eid")
        if eid is None:
            return []
        return list(self._objects(Job).filter(experiment_id=eid).order_by("pk").values_list("pk", flat=True))

    @connector_method()
    def get_all_history(self, eid):
        eid = _lookup_id(eid, "eid")
        if eid is None:
            return []
        rows = (
            self._objects(Job)
            .filter(experiment_id=eid)
            .order_by("pk")
            .values_list("pk", "score", "score_text", "start_time", "end_time", "status", "config")
        )
        return [
            (jid, decode_score(number, text), eid, _unix_seconds(start), _unix_seconds(end), status, json.dumps(config))
            for jid, number, text, start, end, status, config in rows
        ]

    def _best_job(self, eid, maximize, *fields):
        return self._objects(Job).filter(experiment_id=eid).best_first(maximize).values_list(*fields).first()

    @connector_method()
    def get_best_result(self, eid, maximize=True):
        number = _lookup_id(eid, "eid")
        best = None if number is None else self._best_job(number, maximize, "pk", "score")
        if best is None:
            if number is None or not self._objects(Experiment).filter(pk=number).exists():
                raise NotFoundError(f"experiment {eid} does not exist")
            return None
        return list(best)

    @connector_method()
    def get_best_result_config(self, eid, maximize=True):
        eid = _lookup_id(eid, "eid")
        best = None if eid is None else self._best_job(eid, maximize, "config")
        return None if best is None else (json.dumps(best[0]),)

    # -- resources --------------------------------------------------------------------

    @connector_method()
    def get_resource_type(self):
        return list(
            self._objects(Resource)
            .values("type")
            .annotate(first_seen=Min("pk"))
            .order_by("first_seen")
            .values_list("type", flat=True)
        )

    @connector_method()
    def get_available_resource(self, username, rtype, rid_blacklist=None):
        if not check_resource_query(rtype, rid_blacklist):
            return []
        free = self._objects(Resource).filter(status=ResourceStatus.FREE, in_service=True).order_by("pk")
        rids = []
        if rid_blacklist:
            blacklist = lookup_ids(rid_blacklist, "rid_blacklist", "a blacklisted rid")
            rids = list(free.filter(type=rtype).exclude(pk__in=blacklist).values_list("pk", flat=True))
        if not rids:
            rids = list(
                free.annotate(position=StrIndex(Value(rtype), F("type")))
                .filter(position__gt=0)
                .values_list("pk", flat=True)
            )
        return rids

    @connector_method()
    def take_available_resource(self, rid):
        rid = _id(rid, "rid")
        with self._atomic():
            return self._take(rid)

    def _take(self, rid):
        # Compare-and-set: of many callers racing for one free resource, exactly one
        # moves it to busy and gets True. Taken for no attempt (yet: see _hold_for).
        taken = (
            self._objects(Resource)
            .filter(pk=rid, status=ResourceStatus.FREE, in_service=True)
            .update(status=ResourceStatus.BUSY, holder=self.holder_id, taken_at=timezone.now(), taken_by_attempt=None)
        )
        if not taken:
            self._require(Resource, rid, "resource")
        return bool(taken)

    @connector_method()
    def free_used_resource(self, rid):
        rid = _id(rid, "rid")
        with self._atomic():
            self._free(rid)
        return True

    def _free(self, rid):
        if not self._objects(Resource).filter(pk=rid).mark_free():
            raise NotFoundError(f"resource {rid} does not exist")

    @connector_method()
    def free_all_resources(self):
        with self._atomic():
            self._objects(Resource).filter(holder=self.holder_id).mark_free()

    # -- results ----------------------------------------------------------------------

    @connector_method()
    def save_intermediate_result(self, jid, score):
        jid = _id(jid, "jid")
        number, text = encode_score(score)
        connection = connections[self.using]
        receive_time = connection.ops.adapt_datetimefield_value(timezone.now())
        if connection.vendor == "postgresql":
            # Locks the job, then numbers and inserts the step (migration 0007).
            irid = _execute_on_driver(
                connection, _NEXT_STEP_FUNCTION_CALL, [jid, number, text, receive_time], lambda cursor: cursor.fetchone()[0]
            )
        else:
            # One INSERT, its own transaction, serialised with every other writer by
            # SQLite's database lock; lastrowid saves stepping a RETURNING row.
            irid = _execute_on_driver(
                connection, _sqlite_next_step_insert(), [number, text, receive_time, jid],
                lambda cursor: cursor.lastrowid if cursor.rowcount == 1 else None,
            )
        if irid is None:
            raise NotFoundError(f"job {jid} does not exist")
        return irid

    @connector_method()
    def get_intermediate_results_job(self, jid):
        jid = _lookup_id(jid, "jid")
        if jid is None:
            return []
        rows = self._objects(IntermediateResult).filter(job_id=jid).order_by("number").values_list("score", "score_text")
        return [decode_score(number, text) for number, text in rows]

    @connector_method()
    def get_intermediate_results_jobs(self, jids):
        jids = lookup_ids(jids, "jids", "jid")
        if not jids:
            return {}
        return self._curves(self._objects(IntermediateResult).filter(job_id__in=jids))

    @connector_method()
    def get_intermediate_results_experiment(self, eid, status):
        query = check_results_query(eid, status)
        if query is None:
            return {}
        eid, status = query
        return self._curves(
            self._objects(IntermediateResult).filter(job__experiment_id=eid, job__status=status)
        )

    def _curves(self, results):
        curves = {}
        for jid, number, text in results.order_by("job_id", "number").values_list("job_id", "score", "score_text"):
            curves.setdefault(jid, []).append(decode_score(number, text))
        return curves

    @connector_method()
    def save_multiple_results(self, jid, irid, eid, labels, scores):
        jid, irid, eid = _id(jid, "jid"), _id(irid, "irid", allow_none=True), _id(eid, "eid")
        encoded = [encode_score(value) for value in check_scores(scores)]
        labels = check_labels(labels, len(scores))
        if not encoded:  # nothing to record, but the ids are checked all the same
            self._check_result_links(jid, irid, eid)
            return
        labels = tuple(labels or ())
        if labels and self._labels_written.get(eid) != labels:
            if self._label_names(eid, len(labels)) == labels:
                # issue 14 (fastpath): already there, as a connector made for one request
                # (the API's) finds them at nearly every step: one SELECT, not an upsert.
                self._insert_multiple_results(jid, irid, eid, encoded)
            else:
                with self._atomic():
                    self._objects(ResultLabel).bulk_create(
                        [
                            ResultLabel(experiment_id=eid, label_order=order, name=label)
                            for order, label in enumerate(labels, 1)
                        ],
                        update_conflicts=True,
                        unique_fields=["experiment", "label_order"],
                        update_fields=["name"],
                    )
                    self._insert_multiple_results(jid, irid, eid, encoded)
            # Executors repeat the same labels at every step: write them once.
            self._labels_written[eid] = labels
        else:
            self._insert_multiple_results(jid, irid, eid, encoded)

    def _label_names(self, eid, count):
        """The names of experiment `eid`'s labels 1..count, as a tuple (shorter when some
        are missing). One statement, on the driver (see _execute_on_driver)."""
        connection = connections[self.using]
        return _execute_on_driver(
            connection,
            _label_names_select(connection.vendor),
            [eid, count],
            lambda cursor: tuple(row[0] for row in cursor.fetchall()),
        )

    def _insert_multiple_results(self, jid, irid, eid, encoded):
        connection = connections[self.using]
        receive_time = connection.ops.adapt_datetimefield_value(timezone.now())
        params = [receive_time, irid, *(value for pair in encoded for value in pair), jid, eid, irid]
        inserted = _execute_on_driver(
            connection, _multiple_results_insert(connection.vendor, len(encoded)), params, lambda cursor: cursor.rowcount
        )
        if inserted != len(encoded):
            self._check_result_links(jid, irid, eid)
            raise BackendError(f"save_multiple_results: {inserted} of {len(encoded)} rows were written")

    def _check_result_links(self, jid, irid, eid):
        if self._experiment_id_of_job(jid) != eid:
            if not self._objects(Experiment).filter(pk=eid).exists():
                raise NotFoundError(f"experiment {eid} does not exist")
            raise InvalidInputError(f"job {jid} is not part of experiment {eid}")
        if irid is not None and not self._objects(IntermediateResult).filter(pk=irid, job_id=jid).exists():
            raise NotFoundError(f"intermediate result {irid} of job {jid} does not exist")

    @connector_method()
    def set_last_multiple_results(self, eid, jid, num_labels):
        eid, jid = _id(eid, "eid"), _id(jid, "jid")
        num_labels = check_num_labels(num_labels)
        with self._atomic():
            if self._experiment_id_of_job(jid) != eid:
                raise InvalidInputError(f"job {jid} is not part of experiment {eid}")
            rows = self._objects(MultipleResult).filter(job_id=jid)
            # One final set per job: a retried job's earlier marks are cleared.
            rows.filter(is_last=True).update(is_last=False)
            newest = list(rows.order_by("-pk").values_list("pk", flat=True)[:num_labels])
            rows.filter(pk__in=newest).update(is_last=True)
