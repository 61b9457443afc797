"""The experiment-tracking interface that executors write through.

This is Auptimizer's ``aup.ET.Connector.AbstractConnector``, written down once, with the
methods Auptimizer's runtime calls beyond the abstract class and the behaviour of its
reference ``SQLiteConnector`` (see ``shared/spec/CONNECTOR.md``). ``DjangoConnector``
implements it over the ORM; a remote implementation can implement it over HTTP.

This module imports neither Django nor Auptimizer, so any implementation (and any
executor) can use it on a machine that has neither.
"""

import abc
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass


class ConnectorError(Exception):
    """Base class of every error a connector raises."""


class ConnectorClosedError(ConnectorError, RuntimeError):
    """The connector was closed; make a new one."""


class InvalidInputError(ConnectorError, ValueError):
    """An argument has the wrong type or value; nothing was written."""


class NotFoundError(ConnectorError, KeyError, ValueError):
    """An id or user name names nothing; nothing was written.

    It is both a KeyError and a ValueError because Auptimizer raises one or the other
    for unknown objects depending on the method, and callers catch what Auptimizer raises.
    """

    def __str__(self):
        # KeyError would quote the message as if it were a key.
        return str(self.args[0]) if self.args else ""


class BackendError(ConnectorError):
    """The database (or the server) failed to carry out a valid request."""


# The one list of each: the models' choices (and so the database's CHECK constraints), the
# API's fields and the Auptimizer schema of tracking.interop are made from these
# (tests/test_statuses.py). A job may also have no status: Auptimizer ends a cancelled job
# with none.
EXPERIMENT_STATUSES = ("CREATED", "RUNNING", "STOPPED", "FINISHED", "FAILED", "STOPPING", "REQUEST_STOP")
JOB_STATUSES = ("RUNNING", "EARLY_STOPPED", "FINISHED", "FAILED")


@dataclass
class ExperimentCall:
    """The arguments of start_experiment/create_experiment, whichever form they came in."""

    name: str | None
    config: dict
    # In the dict form, the caller's own dict: it receives the de-duplicated name.
    caller_config: dict | None = None


def parse_experiment_call(args, kwargs):
    """Accept both call forms of start_experiment and create_experiment.

    - ``(exp_config)``: Auptimizer 2.0 on PyPI; a dict whose ``name`` key is the name.
    - ``(name, exp_config_blob)``: Auptimizer's master branch; the config as a JSON string.
    """
    kwargs = dict(kwargs)
    if "exp_config" in kwargs or (len(args) == 1 and isinstance(args[0], Mapping) and not kwargs):
        if len(args) + len(kwargs) != 1:
            raise InvalidInputError("give either exp_config (a dict) or name and exp_config_blob, not both")
        config = kwargs["exp_config"] if "exp_config" in kwargs else args[0]
        if not isinstance(config, Mapping):
            raise InvalidInputError(f"exp_config must be a dict, not {type(config).__name__}")
        name = config.get("name")
        _check_name(name)
        stored = dict(config)
        _check_config(stored, "exp_config")
        return ExperimentCall(name=name, config=stored, caller_config=config)

    names = ("name", "exp_config_blob")
    if len(args) > 2:
        raise InvalidInputError(f"too many arguments: expected (username, name, exp_config_blob), got {len(args) + 1}")
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise InvalidInputError(f"unexpected argument {key!r}")
        if key in values:
            raise InvalidInputError(f"{key} given twice")
        values[key] = value
    name = values.get("name")
    _check_name(name)
    blob = values.get("exp_config_blob")
    if blob is None:
        config = {}
    else:
        if isinstance(blob, (bytes, bytearray)):
            try:
                blob = bytes(blob).decode("utf-8", errors="strict")
            except UnicodeDecodeError as exc:
                raise InvalidInputError(f"exp_config_blob is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        if not isinstance(blob, str):
            raise InvalidInputError(f"exp_config_blob must be a JSON string, not {type(blob).__name__}")
        try:
            config = json.loads(blob)
        except ValueError as exc:
            raise InvalidInputError(f"exp_config_blob is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidInputError(f"exp_config_blob nests more than {MAX_NESTING} levels of lists or dicts") from None
        if not isinstance(config, dict):
            raise InvalidInputError("exp_config_blob must be a JSON object")
    _check_config(config, "exp_config_blob")
    return ExperimentCall(name=name, config=config)


def _check_name(name):
    if name is not None and not isinstance(name, str):
        raise InvalidInputError(f"an experiment name must be a string or None, not {type(name).__name__}")
    if name is not None and len(name) > 255:
        raise InvalidInputError("an experiment name must be at most 255 characters")
    check_storable(name, "the experiment name")


def _check_config(config, what):
    """An experiment's config: JSON that can be stored, declaring at most MAX_LABELS labels."""
    _check_json(config, what)
    check_label_names(config_label_names(config), "resource_args.multi_res_labels")


def _check_json(value, what):
    # First what can be stored (and the nesting, which json.dumps would meet as a
    # RecursionError); allow_nan=False: PostgreSQL's JSON refuses NaN, so no database may.
    check_storable(value, what)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not JSON-serialisable: {exc}") from None


def config_label_names(config):
    """The label names an experiment config declares (``resource_args.multi_res_labels``), or []."""
    resource_args = config.get("resource_args") if isinstance(config, Mapping) else None
    names = resource_args.get("multi_res_labels") if isinstance(resource_args, Mapping) else None
    if not isinstance(names, (list, tuple)):
        return []
    return [str(name) for name in names]


# -- argument checks shared by the implementations (made before anything is written or sent)

# Ids are 64-bit; a larger int names nothing (and a database driver could not bind it).
ID_RANGE = range(-(2**63), 2**63)


def check_id(value, what, allow_none=False):
    """An id argument of a write: an int, else InvalidInputError; out of range, NotFoundError."""
    if value is None:
        if allow_none:
            return None
        raise InvalidInputError(f"{what} must be an integer id, not None")
    number = lookup_id(value, what)
    if number is None:
        raise NotFoundError(f"{what} {value} does not exist")
    return number


def lookup_id(value, what):
    """An id argument of a read: an int, else InvalidInputError; None if it can match
    nothing: None itself (as Auptimizer's "eid = NULL", which its early-stopping thread
    asks before the experiment exists) or out of range."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{what} must be an integer id, not {value!r}")
    number = int(value)
    return number if number in ID_RANGE else None


def lookup_ids(values, what, item):
    """An id-list argument of a read (`what`, each an `item`): the ids in it that can match
    something (see lookup_id); InvalidInputError if it is not a list, tuple or set of ints."""
    _check_id_list(values, what)
    return [number for number in (lookup_id(value, item) for value in values) if number is not None]


def _check_id_list(values, what):
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise InvalidInputError(f"{what} must be a list of ids, not {type(values).__name__}")


def check_text(value, what):
    """A text argument (a user name, an error message): a str that can be stored (see
    check_storable), else InvalidInputError."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {type(value).__name__}")
    return check_storable(value, what)


# Text that a database or a page cannot carry: PostgreSQL refuses NUL characters, and a
# lone surrogate (half of a UTF-16 pair, which a Python string can hold) has no UTF-8
# form, so every page or API answer showing it would fail. Configs nest dicts and lists
# at most this deep: deeper, JSON encoding and decoding recurse past Python's limit.
MAX_NESTING = 100


def check_storable(value, what):
    """`value` (a string, or dicts and lists nesting strings) if every string in it, keys
    included, can be stored and shown; InvalidInputError for a NUL character, a lone
    surrogate or nesting deeper than MAX_NESTING. Values of other types pass unchecked."""
    pending = [(value, 0)]
    while pending:  # a loop, not recursion: the nesting is what is being checked
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_characters(item, what)
        elif isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_NESTING:
                raise InvalidInputError(f"{what} nests more than {MAX_NESTING} levels of lists or dicts")
            children = [part for pair in item.items() for part in pair] if isinstance(item, Mapping) else item
            pending.extend((child, depth + 1) for child in children)
    return value


def _check_characters(text, what):
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL character, which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise InvalidInputError(f"{what} contains a lone surrogate (U+{code:04X}), which is not valid Unicode") from None


def check_status(value, allowed, what, allow_none=False):
    if value is None and allow_none:
        return None
    if value not in allowed:
        raise InvalidInputError(f"{value!r} is not a valid {what} status; use one of {', '.join(allowed)}")
    return value


def check_experiment_status(value):
    """One of EXPERIMENT_STATUSES, else InvalidInputError."""
    return check_status(value, EXPERIMENT_STATUSES, "experiment")


def check_job_status(value, allow_none=True):
    """One of JOB_STATUSES, or None (a cancelled job) when `allow_none`; else InvalidInputError."""
    return check_status(value, JOB_STATUSES, "job", allow_none=allow_none)


def check_job_config(value):
    """A job's config: any value JSON can carry, as Auptimizer stores any (its Experiment
    passes a dict of hyperparameters, its own tests pass strings such as "job1"); a mapping
    comes back as a dict. InvalidInputError for what JSON cannot encode (NaN and infinities
    too: PostgreSQL's JSON refuses them) or aupsite cannot store (check_storable)."""
    config = dict(value) if isinstance(value, Mapping) else value
    check_storable(config, "job_config")  # first: json.dumps would recurse past deep nesting
    _check_json(config, "job_config")
    return config


def check_resource_query(rtype, rid_blacklist):
    """get_available_resource's arguments: True when they can match something (a None
    rtype matches nothing, as Auptimizer's instr(NULL, type)); InvalidInputError otherwise."""
    if rtype is None:
        return False
    check_text(rtype, "rtype")
    if rid_blacklist is not None:
        _check_id_list(rid_blacklist, "rid_blacklist")
    return True


def check_results_query(eid, status):
    """get_intermediate_results_experiment's arguments: ``(eid, status)`` when they can
    match something, else None (an eid that names nothing; a None status, which matches no
    job, as Auptimizer's "status = NULL"); InvalidInputError for a status not in
    JOB_STATUSES or an eid that is not an int."""
    eid = lookup_id(eid, "eid")
    if status is None:
        return None
    status = check_job_status(status, allow_none=False)
    return None if eid is None else (eid, status)


# Labeled results: an experiment names at most MAX_LABELS of them (its config's
# multi_res_labels, or the labels of save_multiple_results), and one call records at most
# MAX_LABELS values. Executors report a handful of metrics per step (accuracy, loss, a few
# per-class scores); 100 leaves room for that many times over, while each call stays one
# small statement (2 parameters a value: far inside SQLite's 500 compound SELECTs and 999
# parameters of its oldest builds, and PostgreSQL's 65,535) and every page that lists an
# experiment's labels stays small. A label name is at most MAX_LABEL_LENGTH characters (the
# column's size, tests/test_interface_checks.py).
MAX_LABELS = 100
MAX_LABEL_LENGTH = 255


def check_scores(scores):
    """The values of labeled results: a list (or tuple) of at most MAX_LABELS, else
    InvalidInputError. Each value is a score (tracking.scores checks those)."""
    if not isinstance(scores, (list, tuple)):
        raise InvalidInputError(f"scores must be a list, not {type(scores).__name__}")
    if len(scores) > MAX_LABELS:
        raise InvalidInputError(f"{len(scores)} scores in one call: at most {MAX_LABELS} labeled values are recorded at once")
    return scores


def check_labels(labels, count=None):
    """The names of labeled results: None, or a list (or tuple) of strings, returned as a
    list (see check_label_names); with `count` (the number of values), a non-empty list
    must have that many."""
    if labels is None:
        return None
    if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) for label in labels):
        raise InvalidInputError("labels must be a list of strings or None")
    check_label_names(labels, "labels")
    if count is not None and labels and len(labels) != count:
        raise InvalidInputError(f"{len(labels)} labels for {count} scores")
    return list(labels)


def check_label_names(names, what):
    """At most MAX_LABELS names, each at most MAX_LABEL_LENGTH characters that can be
    stored; else InvalidInputError naming `what`."""
    if len(names) > MAX_LABELS:
        raise InvalidInputError(f"{what}: {len(names)} labels; an experiment has at most {MAX_LABELS}")
    for name in names:
        if len(name) > MAX_LABEL_LENGTH:
            raise InvalidInputError(
                f"{what}: a label name must be at most {MAX_LABEL_LENGTH} characters, not {len(name)}"
            )
        check_storable(name, f"{what}: a label name")
    return names


def check_num_labels(value):
    """set_last_multiple_results' count: an int from 0 to MAX_LABELS (one call's labeled
    values), returned as an int, else InvalidInputError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InvalidInputError(f"num_labels must be a non-negative integer, not {value!r}")
    if value > MAX_LABELS:
        raise InvalidInputError(f"num_labels is {value}: a job's final values are at most {MAX_LABELS} labeled results")
    return int(value)


class AbstractConnector(abc.ABC):
    """What an executor needs from experiment tracking.

    Ids are ints: eid (experiment), jid (job), jaid (job attempt), rid (resource), irid
    (intermediate result). Every write is atomic and checks its input before writing:
    bad input raises InvalidInputError, an unknown id NotFoundError, and nothing is
    written. Bad input includes text no database or page can carry (a NUL character, a
    lone surrogate) anywhere in a name, message, score, label or config, configs nested
    deeper than MAX_NESTING and more than MAX_LABELS labels (see check_storable and
    check_label_names). Scores are floats (ints and numeric strings become floats), NaN,
    +-inf, text such as 'EARLY STOPPED', or None; they come back as they went in.
    """

    # -- lifetime ---------------------------------------------------------------------

    @abc.abstractmethod
    def close(self):
        """Mark the connector closed; a second close() is harmless.

        Afterwards every method except is_closed() and maybe_get_experiment_status()
        raises ConnectorClosedError at once.
        """

    @abc.abstractmethod
    def is_closed(self):
        """True once close() has been called."""

    # -- experiments ------------------------------------------------------------------

    @abc.abstractmethod
    def start_experiment(self, username, *args, **kwargs):
        """Record a new RUNNING experiment of user `username`, started now; return its eid.

        Two call forms: ``(username, exp_config)`` with a dict whose ``name`` key names it
        (the unique name is written back into that dict), or ``(username, name,
        exp_config_blob)`` with the config as a JSON string. Names are unique in the
        whole database: a second "toy" becomes "toy (1)", then "toy (2)". An unknown
        user raises NotFoundError (a ValueError).
        """

    @abc.abstractmethod
    def create_experiment(self, username, *args, **kwargs):
        """As start_experiment, but the experiment is CREATED and has no start time."""

    @abc.abstractmethod
    def start_experiment_by_eid(self, eid):
        """Restart an experiment: delete its jobs, attempts and results; RUNNING from now."""

    @abc.abstractmethod
    def end_experiment(self, eid, status="FINISHED"):
        """Set the experiment's end time to now and its status to `status`."""

    @abc.abstractmethod
    def change_experiment_status(self, eid, status="FINISHED"):
        """Set the experiment's status (one of EXPERIMENT_STATUSES)."""

    @abc.abstractmethod
    def get_experiment_status(self, eid):
        """The experiment's status; NotFoundError (a ValueError) for an unknown eid."""

    @abc.abstractmethod
    def maybe_get_experiment_status(self, eid):
        """As get_experiment_status, but None once the connector is closed.

        Auptimizer's stop-watch thread polls this to notice a REQUEST_STOP.
        """

    @abc.abstractmethod
    def delete_experiment(self, eid):
        """Delete the experiment and everything under it; True, or False if it did not exist."""

    @abc.abstractmethod
    def log_error_message(self, eid, msg):
        """Record the experiment's error message; the first one wins, later ones are ignored."""

    @abc.abstractmethod
    def get_all_experiment(self, username=None):
        """Eids, oldest first: all of them, or those of `username` (unknown user: NotFoundError)."""

    # -- jobs and attempts ------------------------------------------------------------

    @abc.abstractmethod
    def start_job(self, eid, rid, job_config):
        """Record a RUNNING job started now with attempt 0 on resource rid; return its jid.
        `job_config` is any JSON value (check_job_config), a dict of hyperparameters usually."""

    @abc.abstractmethod
    def start_job_attempt(self, rid, jid):
        """Record the job's next attempt (number = last + 1) on resource rid; return its jaid."""

    @abc.abstractmethod
    def end_job_attempt(self, jid):
        """Set the end time of the job's latest attempt to now."""

    @abc.abstractmethod
    def end_job(self, jid, score=None, status=None):
        """End the job now with `score` and `status` (one of JOB_STATUSES, or None: cancelled)."""

    @abc.abstractmethod
    def update_job_status(self, jid, status):
        """Set the job's status (one of JOB_STATUSES, or None)."""

    @abc.abstractmethod
    def job_started(self, eid, rid, job_config):
        """Atomically take resource rid and start_job; return the jid.

        The job is recorded even if the resource was already busy: the executor runs it
        there, and the record must say so.
        """

    @abc.abstractmethod
    def job_finished(self, rid, jid, score=None, status=None):
        """Atomically free rid, end the job's latest attempt and end the job.

        rid is freed only if that attempt took it (job_started, job_retry, or its own
        connector's take_available_resource before the attempt was recorded) and still
        holds it; any other resource is left as it is, and the job still ends.
        """

    @abc.abstractmethod
    def job_failed(self, rid, jid):
        """Atomically free rid and end the job's latest attempt (the job may be retried).

        rid is freed only if that attempt took it and still holds it, as job_finished.
        """

    @abc.abstractmethod
    def job_retry(self, rid, jid):
        """Atomically take rid and start the job's next attempt; return the jaid."""

    @abc.abstractmethod
    def get_running_job(self, eid):
        """The jids of the experiment's jobs (all of them, as Auptimizer), in jid order."""

    @abc.abstractmethod
    def get_all_history(self, eid):
        """The experiment's jobs as tuples, in jid order.

        ``(jid, score, eid, start_time, end_time, status, job_config_json)``, times as
        integer Unix seconds (or None).
        """

    @abc.abstractmethod
    def get_best_result(self, eid, maximize=True):
        """``[jid, score]`` of the best finite score (ties: lowest jid), or None if none.

        An unknown eid raises NotFoundError (a KeyError).
        """

    @abc.abstractmethod
    def get_best_result_config(self, eid, maximize=True):
        """``(job_config_json,)`` of the job get_best_result picks, or None."""

    # -- resources --------------------------------------------------------------------

    @abc.abstractmethod
    def get_resource_type(self):
        """The distinct resource types, in the order they were first added."""

    @abc.abstractmethod
    def get_available_resource(self, username, rtype, rid_blacklist=None):
        """Free, in-service rids for `rtype`, in rid order; `username` is not used.

        With a non-empty blacklist: first the free rids whose type equals `rtype` and that
        are not blacklisted; if that gives none (or there is no blacklist), the free rids
        whose type is contained in `rtype` (so 'gpu,cpu' matches both), blacklist ignored.
        """

    @abc.abstractmethod
    def take_available_resource(self, rid):
        """Mark rid busy; True only for the caller that moved it from free to busy.

        Taking a busy or out-of-service resource returns False.
        """

    @abc.abstractmethod
    def free_used_resource(self, rid):
        """Mark rid free; return True."""

    @abc.abstractmethod
    def free_all_resources(self):
        """Free the resources this connector instance took and has not freed."""

    # -- results ----------------------------------------------------------------------

    @abc.abstractmethod
    def save_intermediate_result(self, jid, score):
        """Record the job's next intermediate result (numbered 0, 1, 2, ...); return its irid."""

    @abc.abstractmethod
    def get_intermediate_results_job(self, jid):
        """The job's intermediate scores in order ([] for an unknown job)."""

    @abc.abstractmethod
    def get_intermediate_results_jobs(self, jids):
        """``{jid: [scores]}`` for those of `jids` that have results."""

    @abc.abstractmethod
    def get_intermediate_results_experiment(self, eid, status):
        """``{jid: [scores]}`` for the experiment's jobs in `status` that have results."""

    @abc.abstractmethod
    def save_multiple_results(self, jid, irid, eid, labels, scores):
        """Record one labeled result per score (label order 1..n), linked to irid (or None).

        At most MAX_LABELS scores (and labels) per call; more is InvalidInputError.

        `labels`, when given and non-empty, names the values (and must match `scores` in
        length); otherwise the experiment config's ``resource_args.multi_res_labels`` does.
        """

    @abc.abstractmethod
    def set_last_multiple_results(self, eid, jid, num_labels):
        """Mark the job's last `num_labels` labeled results as its final ones (and only those).

        `num_labels` is at most MAX_LABELS (one call's values); more is InvalidInputError.
        """
