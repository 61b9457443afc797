"""The connector contract (shared/spec/CONNECTOR.md), written once for every implementation.

Each test drives the implementation under test only through the `connector` fixture:
tests/conftest.py makes it a DjangoConnector, and tests/test_connector_contract.py
collects this module with that fixture. Another implementation (the REST client) gets the
same suite by star-importing this module into a test file that overrides `connector`.

Set-up and checks of the stored rows go straight through the ORM (tests/factories.py), so
a test of one method does not lean on another method of the implementation under test.
Where the spec names Auptimizer's behaviour, the reference is Auptimizer 2.0's
SQLiteConnector; "improved" points are tested as the spec states them.
"""

import copy
import json
import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.factories import (
    make_experiment,
    make_intermediate_results,
    make_job,
    make_multiple_results,
    make_resource,
    make_user,
)
from tracking.interface import (
    AbstractConnector,
    ConnectorClosedError,
    ConnectorError,
    InvalidInputError,
    NotFoundError,
)
from tracking.models import (
    Experiment,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResultLabel,
)

# An id no row reaches, even where PostgreSQL's sequences keep counting across test runs
# (a rolled-back test does not rewind them, nor does --reuse-db).
UNKNOWN = 999_999_999_999
# Just beyond a 64-bit id column at either end: SQLite's driver refuses to bind them
# (OverflowError) and PostgreSQL's bigint cannot hold them, so they reach the error path
# of every lookup that does not check its ids first.
OUT_OF_RANGE = (2**63, -(2**63) - 1)

EXPERIMENT_STATUSES = ("CREATED", "RUNNING", "STOPPED", "FINISHED", "FAILED", "STOPPING", "REQUEST_STOP")
JOB_STATUSES = ("RUNNING", "EARLY_STOPPED", "FINISHED", "FAILED", None)

nan, inf = float("nan"), float("inf")

# (what an executor reports, what comes back): ints and numeric strings become floats,
# everything else comes back as it went in.
SCORES = [
    pytest.param(0.25, 0.25, id="float"),
    pytest.param(-2.5, -2.5, id="negative"),
    pytest.param(3, 3.0, id="int"),
    pytest.param(0, 0.0, id="zero"),
    pytest.param("1.5", 1.5, id="numeric-string"),
    pytest.param(nan, nan, id="nan"),
    pytest.param(inf, inf, id="inf"),
    pytest.param(-inf, -inf, id="-inf"),
    pytest.param("EARLY STOPPED", "EARLY STOPPED", id="text"),
    pytest.param(None, None, id="none"),
]
SCORE_VALUES = [param.values for param in SCORES]

TRACKED_MODELS = (Experiment, Job, JobAttempt, IntermediateResult, MultipleResult, ResultLabel, Resource)


# -- helpers ------------------------------------------------------------------------------


def db_state():
    """Every tracked row with every field: equal before and after means nothing was written."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TRACKED_MODELS}


def refused(exc_type, call, *mentions):
    """Assert that call() raises exc_type, an interface error naming `mentions`, having written nothing."""
    before = db_state()
    with pytest.raises(exc_type) as info:
        call()
    # No django.db (or driver) exception may reach the executor.
    assert isinstance(info.value, ConnectorError), f"{type(info.value).__name__} is not a ConnectorError"
    for mention in mentions:
        assert str(mention) in str(info.value), f"{str(mention)!r} not named in {str(info.value)!r}"
    assert db_state() == before, "a refused call wrote to the database"
    return info.value


def same_score(got, expected):
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    # The type matters too: an int must come back as a float, a text as a text.
    return type(got) is type(expected) and got == expected


def assert_scores(got, expected):
    assert len(got) == len(expected) and all(map(same_score, got, expected)), f"{got!r} != {expected!r}"


def assert_now(moment, before, after):
    """`moment` was taken during the call (give or take a second of storage rounding)."""
    assert moment is not None
    assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)


def unix(moment):
    return int(moment.timestamp())


def attempts_of(jid):
    return list(JobAttempt.objects.filter(job_id=jid).order_by("number"))


def status_of(resource):
    return Resource.objects.get(pk=resource.pk if isinstance(resource, Resource) else resource).status


def labels_of(eid):
    labels = ResultLabel.objects.filter(experiment_id=eid).order_by("label_order")
    return list(labels.values_list("label_order", "name"))


def new_experiment(connector, method, form, name, config=None, username="alice"):
    """Call start_experiment or create_experiment in one of its two forms.

    "dict": Auptimizer 2.0 on PyPI, ``(username, exp_config)`` with the name in the dict;
    "blob": Auptimizer master, ``(username, name, exp_config_blob)`` with a JSON string.
    """
    config = dict(config or {})
    if form == "dict":
        if name is not None:
            config["name"] = name
        return getattr(connector, method)(username, config)
    return getattr(connector, method)(username, name, json.dumps(config))


both_methods = pytest.mark.parametrize("method", ["start_experiment", "create_experiment"])
both_forms = pytest.mark.parametrize("form", ["dict", "blob"])


@pytest.fixture
def world(user, cpu):
    """One of everything, as a running executor leaves it: experiment, job on the free
    cpu resource with its attempt 0, one intermediate result."""
    experiment = make_experiment(user, name="world")
    job = make_job(experiment, cpu)
    irid = make_intermediate_results(job, [0.1])[0].pk
    return SimpleNamespace(eid=experiment.pk, jid=job.pk, rid=cpu.pk, irid=irid)


class Ref(str):
    """In a call table, stands for one of the world's ids (e.g. Ref("jid") -> world.jid)."""


EID, JID, RID, IRID = Ref("eid"), Ref("jid"), Ref("rid"), Ref("irid")

# Every write method with valid arguments, ids as Refs into `world`.
WRITES = {
    "start_experiment_by_eid": (EID,),
    "end_experiment": (EID, "FINISHED"),
    "change_experiment_status": (EID, "STOPPED"),
    "delete_experiment": (EID,),
    "log_error_message": (EID, "boom"),
    "start_job": (EID, RID, {"lr": 0.1}),
    "start_job_attempt": (RID, JID),
    "end_job_attempt": (JID,),
    "end_job": (JID, 0.5, "FINISHED"),
    "update_job_status": (JID, "FINISHED"),
    "job_started": (EID, RID, {"lr": 0.1}),
    "job_finished": (RID, JID, 0.5, "FINISHED"),
    "job_failed": (RID, JID),
    "job_retry": (RID, JID),
    "take_available_resource": (RID,),
    "free_used_resource": (RID,),
    "save_intermediate_result": (JID, 0.5),
    "save_multiple_results": (JID, IRID, EID, ["acc"], [0.5]),
    "set_last_multiple_results": (EID, JID, 1),
}
# (method, position, id kind) for every id argument of a write.
WRITE_IDS = [
    pytest.param(method, position, str(arg), id=f"{method}-{arg}")
    for method, args in WRITES.items()
    for position, arg in enumerate(args)
    if isinstance(arg, Ref)
]


def write_call(connector, world, method, replace=None):
    """A call of `method` with the world's ids, the argument at replace[0] replaced by replace[1]."""
    args = [getattr(world, arg) if isinstance(arg, Ref) else copy.deepcopy(arg) for arg in WRITES[method]]
    if replace is not None:
        args[replace[0]] = replace[1]
    return lambda: getattr(connector, method)(*args)


# -- lifetime ---------------------------------------------------------------------------


def test_it_is_open_until_closed(connector):
    assert connector.is_closed() is False
    connector.close()
    assert connector.is_closed() is True


def test_it_takes_a_second_close_calmly(connector):
    connector.close()
    connector.close()
    assert connector.is_closed() is True


def test_it_answers_maybe_get_experiment_status_until_closed(connector, world):
    assert connector.maybe_get_experiment_status(world.eid) == "RUNNING"
    connector.close()
    # Auptimizer's stop-watch thread may poll once more after the executor closed it.
    assert connector.maybe_get_experiment_status(world.eid) is None
    assert connector.maybe_get_experiment_status(UNKNOWN) is None


# Every method but close, is_closed and maybe_get_experiment_status, with valid arguments.
CLOSED_CALLS = [
    ("start_experiment", lambda c, w: c.start_experiment("alice", {"name": "late"})),
    ("start_experiment", lambda c, w: c.start_experiment("alice", "late", "{}")),
    ("create_experiment", lambda c, w: c.create_experiment("alice", {"name": "late"})),
    ("create_experiment", lambda c, w: c.create_experiment("alice", "late", "{}")),
    ("start_experiment_by_eid", lambda c, w: c.start_experiment_by_eid(w.eid)),
    ("end_experiment", lambda c, w: c.end_experiment(w.eid)),
    ("change_experiment_status", lambda c, w: c.change_experiment_status(w.eid, "STOPPED")),
    ("get_experiment_status", lambda c, w: c.get_experiment_status(w.eid)),
    ("delete_experiment", lambda c, w: c.delete_experiment(w.eid)),
    ("log_error_message", lambda c, w: c.log_error_message(w.eid, "boom")),
    ("get_all_experiment", lambda c, w: c.get_all_experiment()),
    ("start_job", lambda c, w: c.start_job(w.eid, w.rid, {})),
    ("start_job_attempt", lambda c, w: c.start_job_attempt(w.rid, w.jid)),
    ("end_job_attempt", lambda c, w: c.end_job_attempt(w.jid)),
    ("end_job", lambda c, w: c.end_job(w.jid, 1.0, "FINISHED")),
    ("update_job_status", lambda c, w: c.update_job_status(w.jid, "FINISHED")),
    ("job_started", lambda c, w: c.job_started(w.eid, w.rid, {})),
    ("job_finished", lambda c, w: c.job_finished(w.rid, w.jid, 1.0, "FINISHED")),
    ("job_failed", lambda c, w: c.job_failed(w.rid, w.jid)),
    ("job_retry", lambda c, w: c.job_retry(w.rid, w.jid)),
    ("get_running_job", lambda c, w: c.get_running_job(w.eid)),
    ("get_all_history", lambda c, w: c.get_all_history(w.eid)),
    ("get_best_result", lambda c, w: c.get_best_result(w.eid)),
    ("get_best_result_config", lambda c, w: c.get_best_result_config(w.eid)),
    ("get_resource_type", lambda c, w: c.get_resource_type()),
    ("get_available_resource", lambda c, w: c.get_available_resource("alice", "cpu")),
    ("take_available_resource", lambda c, w: c.take_available_resource(w.rid)),
    ("free_used_resource", lambda c, w: c.free_used_resource(w.rid)),
    ("free_all_resources", lambda c, w: c.free_all_resources()),
    ("save_intermediate_result", lambda c, w: c.save_intermediate_result(w.jid, 1.0)),
    ("get_intermediate_results_job", lambda c, w: c.get_intermediate_results_job(w.jid)),
    ("get_intermediate_results_jobs", lambda c, w: c.get_intermediate_results_jobs([w.jid])),
    ("get_intermediate_results_experiment", lambda c, w: c.get_intermediate_results_experiment(w.eid, "RUNNING")),
    ("save_multiple_results", lambda c, w: c.save_multiple_results(w.jid, w.irid, w.eid, ["acc"], [1.0])),
    ("set_last_multiple_results", lambda c, w: c.set_last_multiple_results(w.eid, w.jid, 1)),
]


def test_it_checks_every_interface_method_once_closed():
    # Guards the table below: a method added to the interface must be added here too.
    checked = {name for name, _ in CLOSED_CALLS} | {"close", "is_closed", "maybe_get_experiment_status"}
    assert checked == set(AbstractConnector.__abstractmethods__)


@pytest.mark.parametrize("call", [pytest.param(call, id=name) for name, call in CLOSED_CALLS])
def test_it_refuses_every_other_call_once_closed(connector, world, call):
    connector.close()
    # Raised at once, without retries (Auptimizer retries 5 x 0.1 s, then a bare Exception).
    refused(ConnectorClosedError, lambda: call(connector, world), "closed")


# -- experiments --------------------------------------------------------------------------


def test_it_starts_an_experiment_from_a_config_dict(connector, user):
    before = timezone.now()
    eid = connector.start_experiment("alice", {"name": "toy", "lr": 0.1})
    after = timezone.now()

    assert type(eid) is int
    experiment = Experiment.objects.get(pk=eid)
    assert experiment.owner == user
    assert experiment.name == "toy"
    assert experiment.status == "RUNNING"
    assert_now(experiment.start_time, before, after)
    assert experiment.end_time is None
    assert experiment.error_msg is None
    assert experiment.config == {"name": "toy", "lr": 0.1}


def test_it_starts_an_experiment_from_a_name_and_json_blob(connector, user):
    before = timezone.now()
    eid = connector.start_experiment("alice", "toy", json.dumps({"lr": 0.1, "layers": [1, 2]}))
    after = timezone.now()

    assert type(eid) is int
    experiment = Experiment.objects.get(pk=eid)
    assert experiment.owner == user
    assert experiment.name == "toy"
    assert experiment.status == "RUNNING"
    assert_now(experiment.start_time, before, after)
    assert experiment.end_time is None
    assert experiment.config["lr"] == 0.1
    assert experiment.config["layers"] == [1, 2]


@both_forms
def test_it_creates_an_experiment_without_starting_it(connector, user, form):
    eid = new_experiment(connector, "create_experiment", form, "toy", {"lr": 0.1})

    assert type(eid) is int
    experiment = Experiment.objects.get(pk=eid)
    assert experiment.owner == user
    assert experiment.name == "toy"
    assert experiment.status == "CREATED"
    assert experiment.start_time is None
    assert experiment.end_time is None
    assert experiment.config["lr"] == 0.1


@both_methods
@both_forms
def test_it_numbers_repeated_names(connector, user, method, form):
    eids = [new_experiment(connector, method, form, "toy") for _ in range(3)]

    assert len(set(eids)) == 3
    assert [Experiment.objects.get(pk=eid).name for eid in eids] == ["toy", "toy (1)", "toy (2)"]


@both_methods
def test_it_writes_the_unique_name_back_into_the_callers_dict(connector, user, method):
    make_experiment(user, name="toy")
    config = {"name": "toy", "lr": 0.1}

    eid = getattr(connector, method)("alice", config)

    # As Auptimizer 2.0: the executor goes on with the name the experiment really has.
    assert config["name"] == "toy (1)"
    experiment = Experiment.objects.get(pk=eid)
    assert experiment.name == "toy (1)"
    assert experiment.config["name"] == "toy (1)"
    assert experiment.config["lr"] == 0.1


@both_forms
def test_it_keeps_a_new_name_although_a_numbered_variant_exists(connector, user, form):
    make_experiment(user, name="toy (1)")

    first = new_experiment(connector, "start_experiment", form, "toy")
    second = new_experiment(connector, "start_experiment", form, "toy")

    assert Experiment.objects.get(pk=first).name == "toy"
    # One past the highest number in use, as Auptimizer: "toy (1)" is taken.
    assert Experiment.objects.get(pk=second).name == "toy (2)"


def test_it_numbers_one_past_the_highest_number_in_use(connector, user):
    make_experiment(user, name="toy")
    make_experiment(user, name="toy (3)")

    eid = connector.start_experiment("alice", "toy", "{}")

    assert Experiment.objects.get(pk=eid).name == "toy (4)"


def test_it_makes_names_unique_across_users(connector, user, other_user):
    make_experiment(user, name="toy")

    eid = connector.start_experiment("bob", {"name": "toy"})

    experiment = Experiment.objects.get(pk=eid)
    assert experiment.owner == other_user
    assert experiment.name == "toy (1)"


@both_methods
@both_forms
def test_it_allows_experiments_without_a_name(connector, user, method, form):
    first = new_experiment(connector, method, form, None)
    second = new_experiment(connector, method, form, None)

    assert first != second
    assert Experiment.objects.get(pk=first).name is None
    assert Experiment.objects.get(pk=second).name is None


@both_methods
def test_it_refuses_a_config_blob_that_is_not_json(connector, user, method):
    refused(InvalidInputError, lambda: getattr(connector, method)("alice", "toy", "{'lr': 0.1"), "JSON")


@both_methods
@both_forms
def test_it_refuses_an_experiment_of_an_unknown_user(connector, user, method, form):
    make_experiment(user, name="toy")
    config = {"name": "toy"}
    if form == "dict":
        refused(ValueError, lambda: getattr(connector, method)("nobody", config), "nobody")
        # Not even the caller's dict is touched.
        assert config == {"name": "toy"}
    else:
        refused(ValueError, lambda: getattr(connector, method)("nobody", "toy", "{}"), "nobody")


@both_methods
@pytest.mark.parametrize(
    "args",
    [
        pytest.param((None, {"name": "toy"}), id="username-none"),
        pytest.param((42, {"name": "toy"}), id="username-int"),
        pytest.param(("alice", 42, "{}"), id="name-int"),
        pytest.param(("alice", "toy", 42), id="blob-int"),
        pytest.param(("alice", {"name": "toy", "callback": object()}), id="dict-not-json"),
    ],
)
def test_it_refuses_experiment_arguments_of_the_wrong_type(connector, user, method, args):
    # ValueError as well: Auptimizer raises ValueError for a username it cannot find.
    refused(ValueError, lambda: getattr(connector, method)(*args))


@both_methods
@both_forms
def test_it_stores_the_result_labels_of_the_config(connector, user, method, form):
    config = {"resource_args": {"multi_res_labels": ["accuracy", "loss"]}}

    eid = new_experiment(connector, method, form, "labeled", config)

    assert labels_of(eid) == [(1, "accuracy"), (2, "loss")]


def test_it_restarts_an_experiment_from_scratch(connector, user, cpu):
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    experiment = make_experiment(
        user, name="old", status="FAILED", start_time=long_ago, end_time=long_ago, error_msg="boom"
    )
    job = make_job(experiment, cpu, status="FAILED", attempts=2)
    steps = make_intermediate_results(job, [0.1, 0.2])
    make_multiple_results(job, [0.5, 0.6], intermediate_result=steps[1], is_last=True)
    # Another experiment's rows must survive the restart untouched.
    other = make_experiment(user, name="other")
    other_job = make_job(other, cpu)
    make_multiple_results(other_job, [0.7], intermediate_result=make_intermediate_results(other_job, [0.3])[0])
    others_before = {
        model.__name__: list(model.objects.filter(**{lookup: other.pk}).order_by("pk").values())
        for model, lookup in [
            (Job, "experiment_id"),
            (JobAttempt, "job__experiment_id"),
            (IntermediateResult, "job__experiment_id"),
            (MultipleResult, "experiment_id"),
        ]
    }

    before = timezone.now()
    connector.start_experiment_by_eid(experiment.pk)
    after = timezone.now()

    assert not Job.objects.filter(experiment=experiment).exists()
    assert not JobAttempt.objects.filter(job__experiment=experiment).exists()
    assert not IntermediateResult.objects.filter(job__experiment=experiment).exists()
    assert not MultipleResult.objects.filter(experiment=experiment).exists()
    experiment.refresh_from_db()
    assert experiment.status == "RUNNING"
    assert_now(experiment.start_time, before, after)
    assert experiment.end_time is None
    assert experiment.error_msg is None
    assert experiment.name == "old"
    assert others_before == {
        model.__name__: list(model.objects.filter(**{lookup: other.pk}).order_by("pk").values())
        for model, lookup in [
            (Job, "experiment_id"),
            (JobAttempt, "job__experiment_id"),
            (IntermediateResult, "job__experiment_id"),
            (MultipleResult, "experiment_id"),
        ]
    }


def test_it_starts_a_created_experiment_by_eid(connector, user):
    experiment = make_experiment(user, name="later", status="CREATED")

    before = timezone.now()
    connector.start_experiment_by_eid(experiment.pk)
    after = timezone.now()

    experiment.refresh_from_db()
    assert experiment.status == "RUNNING"
    assert_now(experiment.start_time, before, after)


def test_it_refuses_to_restart_an_unknown_experiment(connector, world):
    refused(NotFoundError, lambda: connector.start_experiment_by_eid(UNKNOWN), UNKNOWN)


def test_it_ends_an_experiment_as_finished_by_default(connector, world):
    started = Experiment.objects.get(pk=world.eid).start_time

    before = timezone.now()
    connector.end_experiment(world.eid)
    after = timezone.now()

    experiment = Experiment.objects.get(pk=world.eid)
    assert experiment.status == "FINISHED"
    assert_now(experiment.end_time, before, after)
    assert experiment.start_time == started


@pytest.mark.parametrize("status", EXPERIMENT_STATUSES)
def test_it_ends_an_experiment_with_the_given_status(connector, world, status):
    before = timezone.now()
    connector.end_experiment(world.eid, status)
    after = timezone.now()

    experiment = Experiment.objects.get(pk=world.eid)
    assert experiment.status == status
    assert_now(experiment.end_time, before, after)


@pytest.mark.parametrize("status", EXPERIMENT_STATUSES)
def test_it_changes_the_experiment_status_and_reads_it_back(connector, world, status):
    connector.change_experiment_status(world.eid, status)

    assert connector.get_experiment_status(world.eid) == status
    assert Experiment.objects.get(pk=world.eid).status == status
    # Only end_experiment ends it.
    assert Experiment.objects.get(pk=world.eid).end_time is None


@pytest.mark.parametrize("method", ["end_experiment", "change_experiment_status"])
@pytest.mark.parametrize("status", ["DONE", "finished", "Running", "", None, 3])
def test_it_refuses_an_invalid_experiment_status(connector, world, method, status):
    mentions = [status] if status else []
    refused(InvalidInputError, lambda: getattr(connector, method)(world.eid, status), *mentions)


def test_it_reads_the_status_an_admin_or_the_dashboard_set(connector, world):
    # The stop-watch thread polls for REQUEST_STOP written by the dashboard.
    Experiment.objects.filter(pk=world.eid).update(status="REQUEST_STOP")

    assert connector.get_experiment_status(world.eid) == "REQUEST_STOP"
    assert connector.maybe_get_experiment_status(world.eid) == "REQUEST_STOP"


@pytest.mark.parametrize("method", ["get_experiment_status", "maybe_get_experiment_status"])
def test_it_refuses_the_status_of_an_unknown_experiment(connector, world, method):
    refused(ValueError, lambda: getattr(connector, method)(UNKNOWN), UNKNOWN)


def test_it_deletes_an_experiment_and_everything_under_it(connector, user, cpu):
    experiment = make_experiment(user, name="doomed", config={"resource_args": {"multi_res_labels": ["acc"]}})
    ResultLabel.objects.create(experiment=experiment, label_order=1, name="acc")
    job = make_job(experiment, cpu, attempts=2)
    make_multiple_results(job, [0.5], intermediate_result=make_intermediate_results(job, [0.1, 0.2])[1])
    other = make_experiment(user, name="kept")
    other_job = make_job(other, cpu)
    make_multiple_results(other_job, [0.7], intermediate_result=make_intermediate_results(other_job, [0.3])[0])
    before = db_state()

    assert connector.delete_experiment(experiment.pk) is True

    assert not Experiment.objects.filter(pk=experiment.pk).exists()
    assert not Job.objects.filter(experiment_id=experiment.pk).exists()
    assert not JobAttempt.objects.filter(job_id=job.pk).exists()
    assert not IntermediateResult.objects.filter(job_id=job.pk).exists()
    assert not MultipleResult.objects.filter(experiment_id=experiment.pk).exists()
    assert not ResultLabel.objects.filter(experiment_id=experiment.pk).exists()
    # The other experiment and the resources are untouched.
    after = db_state()
    assert after["Resource"] == before["Resource"]
    assert after["Experiment"] == [row for row in before["Experiment"] if row["id"] == other.pk]
    assert after["Job"] == [row for row in before["Job"] if row["id"] == other_job.pk]
    assert after["IntermediateResult"] == [row for row in before["IntermediateResult"] if row["job_id"] == other_job.pk]
    assert after["MultipleResult"] == [row for row in before["MultipleResult"] if row["job_id"] == other_job.pk]
    assert after["JobAttempt"] == [row for row in before["JobAttempt"] if row["job_id"] == other_job.pk]


def test_it_answers_false_when_deleting_an_experiment_twice(connector, world):
    assert connector.delete_experiment(world.eid) is True
    before = db_state()

    assert connector.delete_experiment(world.eid) is False
    assert connector.delete_experiment(UNKNOWN) is False
    assert db_state() == before


def test_it_keeps_the_first_error_message(connector, world):
    connector.log_error_message(world.eid, "CUDA out of memory")
    # Later errors are consequences of the first; the cause must stay visible.
    connector.log_error_message(world.eid, "worker died")

    assert Experiment.objects.get(pk=world.eid).error_msg == "CUDA out of memory"


def test_it_lists_experiments_oldest_first(connector, user, other_user):
    first = make_experiment(user, name="a")
    second = make_experiment(other_user, name="b")
    third = make_experiment(user, name="c", status="CREATED")

    assert connector.get_all_experiment() == [first.pk, second.pk, third.pk]
    assert connector.get_all_experiment(None) == [first.pk, second.pk, third.pk]
    assert connector.get_all_experiment("alice") == [first.pk, third.pk]
    assert connector.get_all_experiment("bob") == [second.pk]


def test_it_lists_no_experiments_of_a_user_without_any(connector, world):
    make_user("carol")

    assert connector.get_all_experiment("carol") == []


def test_it_refuses_to_list_experiments_of_an_unknown_user(connector, world):
    refused(ValueError, lambda: connector.get_all_experiment("nobody"), "nobody")


# -- jobs and attempts ----------------------------------------------------------------------


def test_it_starts_a_job_with_its_first_attempt(connector, user, cpu):
    experiment = make_experiment(user, name="jobs")
    config = {"lr": 0.1, "layers": [64, 32], "optimizer": "adam"}

    before = timezone.now()
    jid = connector.start_job(experiment.pk, cpu.pk, config)
    after = timezone.now()

    assert type(jid) is int
    job = Job.objects.get(pk=jid)
    assert job.experiment_id == experiment.pk
    assert job.status == "RUNNING"
    assert_now(job.start_time, before, after)
    assert job.end_time is None
    assert job.score_value is None
    assert job.config == config
    [attempt] = attempts_of(jid)
    assert attempt.number == 0
    assert attempt.resource_id == cpu.pk
    assert attempt.start_time == job.start_time
    assert attempt.end_time is None
    # start_job records; taking the resource is job_started's (or the caller's) business.
    assert status_of(cpu) == "free"


def test_it_numbers_the_attempts_of_each_job(connector, user, cpu):
    gpu = make_resource("gpu")
    experiment = make_experiment(user, name="retries")
    job = make_job(experiment, cpu)
    other_job = make_job(experiment, cpu)

    before = timezone.now()
    first = connector.start_job_attempt(gpu.pk, job.pk)
    second = connector.start_job_attempt(cpu.pk, job.pk)
    others = connector.start_job_attempt(cpu.pk, other_job.pk)
    after = timezone.now()

    attempts = attempts_of(job.pk)
    assert [attempt.number for attempt in attempts] == [0, 1, 2]
    assert [attempt.pk for attempt in attempts[1:]] == [first, second]
    assert [attempt.resource_id for attempt in attempts] == [cpu.pk, gpu.pk, cpu.pk]
    for attempt in attempts[1:]:
        assert_now(attempt.start_time, before, after)
        assert attempt.end_time is None
    assert [(attempt.pk, attempt.number) for attempt in attempts_of(other_job.pk)][1] == (others, 1)


def test_it_ends_only_the_latest_attempt(connector, user, cpu):
    job = make_job(make_experiment(user, name="attempts"), cpu, attempts=2)

    before = timezone.now()
    connector.end_job_attempt(job.pk)
    after = timezone.now()

    earlier, latest = attempts_of(job.pk)
    assert earlier.end_time is None
    assert_now(latest.end_time, before, after)
    # The job itself may still be retried: it stays running.
    job.refresh_from_db()
    assert job.status == "RUNNING"
    assert job.end_time is None


def test_it_ends_a_job_with_its_score_and_status(connector, world):
    before = timezone.now()
    connector.end_job(world.jid, 0.75, "FINISHED")
    after = timezone.now()

    job = Job.objects.get(pk=world.jid)
    assert job.score_value == 0.75
    assert job.status == "FINISHED"
    assert_now(job.end_time, before, after)


def test_it_ends_a_job_without_score_or_status_as_cancelled(connector, world):
    connector.end_job(world.jid)

    job = Job.objects.get(pk=world.jid)
    assert job.score_value is None
    # Auptimizer ends cancelled jobs with no status at all.
    assert job.status is None
    assert job.end_time is not None


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_it_accepts_every_job_status(connector, world, status):
    connector.end_job(world.jid, 1.0, status)
    assert Job.objects.get(pk=world.jid).status == status

    connector.update_job_status(world.jid, "RUNNING")
    connector.update_job_status(world.jid, status)
    assert Job.objects.get(pk=world.jid).status == status


def test_it_updates_only_the_job_status(connector, world):
    connector.update_job_status(world.jid, "EARLY_STOPPED")

    job = Job.objects.get(pk=world.jid)
    assert job.status == "EARLY_STOPPED"
    assert job.end_time is None
    assert job.score_value is None


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, w, status: c.end_job(w.jid, 1.0, status), id="end_job"),
        pytest.param(lambda c, w, status: c.update_job_status(w.jid, status), id="update_job_status"),
        pytest.param(lambda c, w, status: c.job_finished(w.rid, w.jid, 1.0, status), id="job_finished"),
    ],
)
# "EARLY STOPPED" (with a space) is Auptimizer's score text, not a status.
@pytest.mark.parametrize("status", ["DONE", "finished", "EARLY STOPPED", "CREATED", "", 1])
def test_it_refuses_an_invalid_job_status(connector, world, call, status):
    Resource.objects.filter(pk=world.rid).update(status="busy")
    mentions = [status] if status else []
    refused(InvalidInputError, lambda: call(connector, world, status), *mentions)


def test_it_takes_the_resource_and_starts_the_job_in_job_started(connector, user, cpu):
    experiment = make_experiment(user, name="helpers")

    jid = connector.job_started(experiment.pk, cpu.pk, {"lr": 0.1})

    assert type(jid) is int
    job = Job.objects.get(pk=jid)
    assert (job.experiment_id, job.status, job.config) == (experiment.pk, "RUNNING", {"lr": 0.1})
    [attempt] = attempts_of(jid)
    assert (attempt.number, attempt.resource_id, attempt.end_time) == (0, cpu.pk, None)
    assert status_of(cpu) == "busy"


def test_it_records_a_job_started_on_a_busy_resource(connector, user, cpu):
    # The executor runs the job there whatever the take says; the record must say so.
    Resource.objects.filter(pk=cpu.pk).update(status="busy")
    experiment = make_experiment(user, name="crowded")

    jid = connector.job_started(experiment.pk, cpu.pk, {})

    assert Job.objects.get(pk=jid).status == "RUNNING"
    [attempt] = attempts_of(jid)
    assert (attempt.number, attempt.resource_id) == (0, cpu.pk)
    assert status_of(cpu) == "busy"


def test_it_leaves_no_job_when_job_started_names_an_unknown_resource(connector, world):
    refused(ConnectorError, lambda: connector.job_started(world.eid, UNKNOWN, {}), UNKNOWN)
    assert Job.objects.filter(experiment_id=world.eid).count() == 1


def test_it_leaves_the_resource_free_when_job_started_names_an_unknown_experiment(connector, world):
    refused(ConnectorError, lambda: connector.job_started(UNKNOWN, world.rid, {}), UNKNOWN)
    assert status_of(world.rid) == "free"


def test_it_frees_the_resource_and_ends_attempt_and_job_in_job_finished(connector, user, cpu):
    Resource.objects.filter(pk=cpu.pk).update(status="busy")
    job = make_job(make_experiment(user, name="done"), cpu, attempts=2)

    before = timezone.now()
    connector.job_finished(cpu.pk, job.pk, 0.9, "FINISHED")
    after = timezone.now()

    assert status_of(cpu) == "free"
    earlier, latest = attempts_of(job.pk)
    assert earlier.end_time is None
    assert_now(latest.end_time, before, after)
    job.refresh_from_db()
    assert (job.score_value, job.status) == (0.9, "FINISHED")
    assert_now(job.end_time, before, after)


def test_it_finishes_a_job_without_score_or_status(connector, world):
    Resource.objects.filter(pk=world.rid).update(status="busy")

    connector.job_finished(world.rid, world.jid)

    job = Job.objects.get(pk=world.jid)
    assert (job.score_value, job.status) == (None, None)
    assert job.end_time is not None
    assert status_of(world.rid) == "free"


def test_it_leaves_the_resource_busy_when_job_finished_names_an_unknown_job(connector, world):
    Resource.objects.filter(pk=world.rid).update(status="busy")

    refused(ConnectorError, lambda: connector.job_finished(world.rid, UNKNOWN, 1.0, "FINISHED"), UNKNOWN)
    assert status_of(world.rid) == "busy"


def test_it_leaves_the_job_running_when_job_finished_names_an_unknown_resource(connector, world):
    refused(ConnectorError, lambda: connector.job_finished(UNKNOWN, world.jid, 1.0, "FINISHED"), UNKNOWN)
    job = Job.objects.get(pk=world.jid)
    assert (job.status, job.end_time) == ("RUNNING", None)
    assert attempts_of(world.jid)[0].end_time is None


def test_it_frees_the_resource_and_ends_the_attempt_in_job_failed(connector, user, cpu):
    Resource.objects.filter(pk=cpu.pk).update(status="busy")
    job = make_job(make_experiment(user, name="flaky"), cpu)

    before = timezone.now()
    connector.job_failed(cpu.pk, job.pk)
    after = timezone.now()

    assert status_of(cpu) == "free"
    assert_now(attempts_of(job.pk)[0].end_time, before, after)
    # Failing an attempt is not ending the job: it may be retried.
    job.refresh_from_db()
    assert (job.status, job.end_time) == ("RUNNING", None)


def test_it_leaves_the_attempt_running_when_job_failed_names_an_unknown_resource(connector, world):
    refused(ConnectorError, lambda: connector.job_failed(UNKNOWN, world.jid), UNKNOWN)
    assert attempts_of(world.jid)[0].end_time is None


def test_it_leaves_the_resource_busy_when_job_failed_names_an_unknown_job(connector, world):
    Resource.objects.filter(pk=world.rid).update(status="busy")

    refused(ConnectorError, lambda: connector.job_failed(world.rid, UNKNOWN), UNKNOWN)
    assert status_of(world.rid) == "busy"


def test_it_takes_the_resource_and_starts_the_next_attempt_in_job_retry(connector, user, cpu):
    gpu = make_resource("gpu")
    job = make_job(make_experiment(user, name="again"), cpu)
    JobAttempt.objects.filter(job=job).update(end_time=timezone.now())

    jaid = connector.job_retry(gpu.pk, job.pk)

    assert type(jaid) is int
    attempts = attempts_of(job.pk)
    assert [(a.pk, a.number, a.resource_id, a.end_time) for a in attempts[1:]] == [(jaid, 1, gpu.pk, None)]
    assert status_of(gpu) == "busy"
    assert status_of(cpu) == "free"


def test_it_starts_no_attempt_when_job_retry_names_an_unknown_resource(connector, world):
    refused(ConnectorError, lambda: connector.job_retry(UNKNOWN, world.jid), UNKNOWN)
    assert len(attempts_of(world.jid)) == 1


def test_it_leaves_the_resource_free_when_job_retry_names_an_unknown_job(connector, world):
    refused(ConnectorError, lambda: connector.job_retry(world.rid, UNKNOWN), UNKNOWN)
    assert status_of(world.rid) == "free"


def test_it_records_a_retried_job_through_the_helpers(connector, user, cpu):
    # The sequence Auptimizer's executor runs for a job that fails once, then succeeds.
    gpu = make_resource("gpu")
    experiment = make_experiment(user, name="lifecycle")

    jid = connector.job_started(experiment.pk, cpu.pk, {"lr": 0.1})
    connector.job_failed(cpu.pk, jid)
    jaid = connector.job_retry(gpu.pk, jid)
    connector.job_finished(gpu.pk, jid, 0.8, "FINISHED")

    attempts = attempts_of(jid)
    assert [(a.number, a.resource_id) for a in attempts] == [(0, cpu.pk), (1, gpu.pk)]
    assert attempts[1].pk == jaid
    assert all(attempt.end_time is not None for attempt in attempts)
    job = Job.objects.get(pk=jid)
    assert (job.status, job.score_value) == ("FINISHED", 0.8)
    assert (status_of(cpu), status_of(gpu)) == ("free", "free")


def test_it_lists_every_job_of_the_experiment_as_running_jobs(connector, user, cpu):
    experiment = make_experiment(user, name="all")
    # All of them, whatever their status, as Auptimizer.
    jids = [make_job(experiment, cpu, status=status).pk for status in ("RUNNING", "FINISHED", "FAILED", None)]
    make_job(make_experiment(user, name="other"), cpu)

    assert connector.get_running_job(experiment.pk) == jids


def test_it_gives_the_history_as_tuples_in_jid_order(connector, user, cpu):
    experiment = make_experiment(user, name="history")
    started = datetime(2024, 5, 6, 7, 8, 9, 678000, tzinfo=UTC)
    ended = started + timedelta(seconds=90, microseconds=500000)
    done = make_job(
        experiment, cpu, status="FINISHED", config={"lr": 0.1, "layers": [2]}, start_time=started,
        end_time=ended, score=0.5,
    )
    running = make_job(experiment, cpu, config={"lr": 0.2}, start_time=started)
    make_job(make_experiment(user, name="other"), cpu)

    history = connector.get_all_history(experiment.pk)

    assert [row[0] for row in history] == [done.pk, running.pk]
    for row in history:
        assert type(row) is tuple and len(row) == 7
        assert type(row[6]) is str
    jid, score, eid, start_time, end_time, status, config_json = history[0]
    # Whole Unix seconds, as Auptimizer's strftime('%s'): truncated, not rounded.
    assert (jid, score, eid, start_time, end_time, status) == (
        done.pk, 0.5, experiment.pk, unix(started), unix(ended), "FINISHED"
    )
    assert type(start_time) is int and type(end_time) is int
    assert json.loads(config_json) == {"lr": 0.1, "layers": [2]}
    jid, score, eid, start_time, end_time, status, config_json = history[1]
    assert (jid, score, eid, start_time, end_time, status) == (
        running.pk, None, experiment.pk, unix(started), None, "RUNNING"
    )
    assert json.loads(config_json) == {"lr": 0.2}


def test_it_round_trips_the_job_config_through_history(connector, world):
    config = {"lr": 1e-4, "name": "x", "nested": {"a": [1, 2.5, None, True]}, "unicode": "naïve"}

    jid = connector.start_job(world.eid, world.rid, config)

    [row] = [row for row in connector.get_all_history(world.eid) if row[0] == jid]
    assert json.loads(row[6]) == config


# -- scores -------------------------------------------------------------------------------


@pytest.mark.parametrize("score, expected", SCORES)
def test_it_round_trips_a_job_score_given_to_end_job(connector, world, score, expected):
    connector.end_job(world.jid, score, "FINISHED")

    [row] = connector.get_all_history(world.eid)
    assert same_score(row[1], expected), f"{row[1]!r} != {expected!r}"


@pytest.mark.parametrize("score, expected", SCORES)
def test_it_round_trips_a_job_score_given_to_job_finished(connector, world, score, expected):
    connector.job_finished(world.rid, world.jid, score, "FINISHED")

    [row] = connector.get_all_history(world.eid)
    assert same_score(row[1], expected), f"{row[1]!r} != {expected!r}"


def test_it_round_trips_every_kind_of_intermediate_score(connector, user, cpu):
    experiment = make_experiment(user, name="curves")
    job = make_job(experiment, cpu, status="FINISHED")
    expected = [value for _, value in SCORE_VALUES]

    for score, _ in SCORE_VALUES:
        connector.save_intermediate_result(job.pk, score)

    assert_scores(connector.get_intermediate_results_job(job.pk), expected)
    curves = connector.get_intermediate_results_jobs([job.pk])
    assert list(curves) == [job.pk]
    assert_scores(curves[job.pk], expected)
    curves = connector.get_intermediate_results_experiment(experiment.pk, "FINISHED")
    assert list(curves) == [job.pk]
    assert_scores(curves[job.pk], expected)


def test_it_round_trips_every_kind_of_multiple_result_value(connector, world):
    scores = [score for score, _ in SCORE_VALUES]

    connector.save_multiple_results(world.jid, None, world.eid, [f"m{n}" for n in range(len(scores))], scores)

    rows = MultipleResult.objects.filter(job_id=world.jid).order_by("label_order")
    assert_scores([row.value_decoded for row in rows], [value for _, value in SCORE_VALUES])


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, w, score: c.end_job(w.jid, score, "FINISHED"), id="end_job"),
        pytest.param(lambda c, w, score: c.job_finished(w.rid, w.jid, score, "FINISHED"), id="job_finished"),
        pytest.param(lambda c, w, score: c.save_intermediate_result(w.jid, score), id="save_intermediate_result"),
        pytest.param(
            lambda c, w, score: c.save_multiple_results(w.jid, None, w.eid, ["acc"], [score]),
            id="save_multiple_results",
        ),
    ],
)
@pytest.mark.parametrize(
    "score",
    [
        pytest.param([0.5], id="list"),
        pytest.param({"acc": 0.5}, id="dict"),
        pytest.param(object(), id="object"),
        # No float holds it: refused, rather than stored as something else.
        pytest.param(10**400, id="int-beyond-float"),
    ],
)
def test_it_refuses_a_score_that_is_not_a_number_or_text(connector, world, call, score):
    Resource.objects.filter(pk=world.rid).update(status="busy")
    refused(ConnectorError, lambda: call(connector, world, score))


@pytest.mark.parametrize("maximize, best_index", [(True, 3), (False, 7)])
def test_it_picks_the_best_finite_score(connector, user, cpu, maximize, best_index):
    experiment = make_experiment(user, name="best")
    # Ties at both ends (7.0 twice, -3.0 twice) go to the lowest jid; NaN, +-inf, text
    # and no score never win.
    scores = [2.0, nan, inf, 7.0, -inf, "EARLY STOPPED", None, -3.0, 7.0, -3.0]
    jids = [make_job(experiment, cpu).pk for _ in scores]
    for jid, score in zip(jids, scores):
        connector.end_job(jid, score, "FINISHED")

    best = connector.get_best_result(experiment.pk, maximize=maximize)

    assert best == [jids[best_index], scores[best_index]]
    assert type(best) is list and type(best[1]) is float


def test_it_maximizes_by_default(connector, user, cpu):
    experiment = make_experiment(user, name="default")
    jids = [make_job(experiment, cpu).pk for _ in range(2)]
    connector.end_job(jids[0], 1.0, "FINISHED")
    connector.end_job(jids[1], 2.0, "FINISHED")

    assert connector.get_best_result(experiment.pk) == [jids[1], 2.0]


def test_it_counts_ints_and_numeric_strings_as_numbers_for_the_best(connector, user, cpu):
    experiment = make_experiment(user, name="numbers")
    jids = [make_job(experiment, cpu).pk for _ in range(3)]
    for jid, score in zip(jids, [2.5, "10.5", 3]):
        connector.end_job(jid, score, "FINISHED")

    assert connector.get_best_result(experiment.pk, maximize=True) == [jids[1], 10.5]
    best = connector.get_best_result(experiment.pk, maximize=False)
    assert best == [jids[0], 2.5]
    connector.end_job(jids[0], 5.0, "FINISHED")
    best = connector.get_best_result(experiment.pk, maximize=False)
    assert best == [jids[2], 3.0] and type(best[1]) is float


@pytest.mark.parametrize("maximize", [True, False])
def test_it_has_no_best_result_without_a_finite_score(connector, user, cpu, maximize):
    experiment = make_experiment(user, name="nothing")
    assert connector.get_best_result(experiment.pk, maximize=maximize) is None

    for score in [nan, inf, -inf, "EARLY STOPPED", None]:
        connector.end_job(make_job(experiment, cpu).pk, score, "FINISHED")

    assert connector.get_best_result(experiment.pk, maximize=maximize) is None


def test_it_refuses_the_best_result_of_an_unknown_experiment(connector, world):
    # KeyError, as Auptimizer raises.
    refused(KeyError, lambda: connector.get_best_result(UNKNOWN), UNKNOWN)


@pytest.mark.parametrize("maximize, best_index", [(True, 1), (False, 3)])
def test_it_gives_the_config_of_the_best_job(connector, user, cpu, maximize, best_index):
    experiment = make_experiment(user, name="best config")
    scores = [0.5, 0.9, inf, 0.1, 0.9, 0.1, nan]
    jids = [make_job(experiment, cpu, config={"index": index}).pk for index in range(len(scores))]
    for jid, score in zip(jids, scores):
        connector.end_job(jid, score, "FINISHED")

    best = connector.get_best_result_config(experiment.pk, maximize=maximize)

    assert type(best) is tuple and len(best) == 1 and type(best[0]) is str
    assert json.loads(best[0]) == {"index": best_index}


def test_it_gives_no_best_config_without_a_finite_score(connector, world):
    connector.end_job(world.jid, nan, "FINISHED")

    assert connector.get_best_result_config(world.eid) is None
    assert connector.get_best_result_config(world.eid, maximize=False) is None
    # A read of an unknown id answers as Auptimizer's: no row, None.
    assert connector.get_best_result_config(UNKNOWN) is None


# -- resources ----------------------------------------------------------------------------


def test_it_lists_resource_types_in_first_seen_order(connector):
    assert connector.get_resource_type() == []

    for rtype in ["gpu", "cpu", "gpu", "node", "cpu", "aws"]:
        make_resource(rtype)

    assert connector.get_resource_type() == ["gpu", "cpu", "node", "aws"]


@pytest.fixture
def pool(db):
    """Named resources, in rid order: two free cpus, a free gpu, a busy cpu, an
    out-of-service cpu, a free node."""
    return {
        "c1": make_resource("cpu").pk,
        "c2": make_resource("cpu").pk,
        "g1": make_resource("gpu").pk,
        "busy": make_resource("cpu", status="busy").pk,
        "off": make_resource("cpu", in_service=False).pk,
        "n1": make_resource("node").pk,
    }


@pytest.mark.parametrize(
    "username, rtype, blacklist, expected",
    [
        pytest.param(None, "cpu", None, ["c1", "c2"], id="type"),
        pytest.param("nobody", "cpu", None, ["c1", "c2"], id="username-ignored"),
        pytest.param(None, "gpu,cpu", None, ["c1", "c2", "g1"], id="contained-in"),
        pytest.param(None, "cpu", [], ["c1", "c2"], id="empty-blacklist"),
        pytest.param(None, "cpu", ["c1"], ["c2"], id="blacklisted"),
        pytest.param(None, "cpu", ["busy", "off"], ["c1", "c2"], id="blacklist-of-unavailable"),
        # Everything of the type blacklisted: fall back to all of it, blacklist ignored.
        pytest.param(None, "cpu", ["c1", "c2"], ["c1", "c2"], id="all-blacklisted"),
        # No type *equals* "gpu,cpu": fall back to contained-in, blacklist ignored.
        pytest.param(None, "gpu,cpu", ["c1"], ["c1", "c2", "g1"], id="blacklist-fallback-contained-in"),
        pytest.param(None, "tpu", None, [], id="no-such-type"),
        pytest.param(None, "tpu", ["c1"], [], id="no-such-type-blacklisted"),
        # Auptimizer's instr(NULL, type) matches nothing.
        pytest.param(None, None, None, [], id="no-type"),
    ],
)
def test_it_offers_free_resources_as_auptimizer(connector, pool, username, rtype, blacklist, expected):
    blacklist = None if blacklist is None else [pool[name] for name in blacklist]

    rids = connector.get_available_resource(username, rtype, blacklist)

    assert rids == [pool[name] for name in expected]


def test_it_matches_the_type_exactly_with_a_blacklist(connector):
    cpu, gpu = make_resource("cpu").pk, make_resource("gpu").pk
    both = make_resource("gpu,cpu").pk

    # With a blacklist only a type *equal* to rtype counts, while it gives any.
    assert connector.get_available_resource(None, "gpu,cpu", [cpu]) == [both]
    assert connector.get_available_resource(None, "gpu,cpu") == [cpu, gpu, both]


def test_it_never_offers_busy_or_out_of_service_resources(connector):
    busy = make_resource("cpu", status="busy").pk
    off = make_resource("cpu", in_service=False).pk
    make_resource("gpu", status="busy", in_service=False)

    assert connector.get_available_resource(None, "cpu") == []
    assert connector.get_available_resource(None, "cpu", [busy]) == []
    assert connector.get_available_resource(None, "gpu,cpu", [off]) == []


def test_it_takes_a_free_resource_once(connector, cpu):
    assert connector.take_available_resource(cpu.pk) is True
    assert status_of(cpu) == "busy"

    assert connector.take_available_resource(cpu.pk) is False
    assert status_of(cpu) == "busy"


def test_it_gives_a_free_resource_to_one_connector_only(connector, second_connector, cpu):
    assert connector.take_available_resource(cpu.pk) is True
    assert second_connector.take_available_resource(cpu.pk) is False
    assert status_of(cpu) == "busy"


def test_it_does_not_take_an_out_of_service_resource(connector):
    off = make_resource("cpu", in_service=False)

    assert connector.take_available_resource(off.pk) is False
    assert status_of(off) == "free"


@pytest.mark.parametrize("method", ["take_available_resource", "free_used_resource"])
@pytest.mark.parametrize("rid", ["1", 1.0, None, True], ids=["str", "float", "none", "bool"])
def test_it_refuses_a_rid_that_is_not_an_int(connector, cpu, method, rid):
    # ValueError, as Auptimizer's isinstance(rid, int) check.
    refused(ValueError, lambda: getattr(connector, method)(rid), "rid")


@pytest.mark.parametrize("method", ["take_available_resource", "free_used_resource"])
def test_it_refuses_an_unknown_rid(connector, cpu, method):
    refused(NotFoundError, lambda: getattr(connector, method)(UNKNOWN), UNKNOWN)


def test_it_frees_a_used_resource(connector, cpu):
    Resource.objects.filter(pk=cpu.pk).update(status="busy")

    assert connector.free_used_resource(cpu.pk) is True
    assert status_of(cpu) == "free"
    # Freeing a free resource is harmless, as Auptimizer.
    assert connector.free_used_resource(cpu.pk) is True
    assert status_of(cpu) == "free"


def test_it_frees_only_the_resources_this_connector_took(connector, second_connector, user):
    experiment = make_experiment(user, name="mine")
    job = make_job(experiment)
    taken, started, retried, others, crashed, handed_over, crowded = (make_resource("cpu") for _ in range(7))
    assert connector.take_available_resource(taken.pk) is True
    connector.job_started(experiment.pk, started.pk, {})
    connector.job_retry(retried.pk, job.pk)
    assert second_connector.take_available_resource(others.pk) is True
    # Left busy by an executor that crashed: the admin's recovery command frees it.
    Resource.objects.filter(pk=crashed.pk).update(status="busy")
    # Taken and freed by this connector, then taken by another: no longer ours.
    assert connector.take_available_resource(handed_over.pk) is True
    connector.free_used_resource(handed_over.pk)
    assert second_connector.take_available_resource(handed_over.pk) is True
    # This connector's take loses the race, so the resource stays the other's.
    assert second_connector.take_available_resource(crowded.pk) is True
    connector.job_started(experiment.pk, crowded.pk, {})

    connector.free_all_resources()

    assert [status_of(r) for r in (taken, started, retried)] == ["free"] * 3
    assert [status_of(r) for r in (others, crashed, handed_over, crowded)] == ["busy"] * 4
    # A second call is harmless and frees nothing more.
    connector.free_all_resources()
    assert [status_of(r) for r in (others, crashed, handed_over, crowded)] == ["busy"] * 4


# -- results ------------------------------------------------------------------------------


def test_it_numbers_intermediate_results_per_job(connector, user, cpu):
    experiment = make_experiment(user, name="steps")
    first, second = make_job(experiment, cpu), make_job(experiment, cpu)

    irids = [
        connector.save_intermediate_result(first.pk, 0.1),
        connector.save_intermediate_result(second.pk, 0.2),
        connector.save_intermediate_result(first.pk, 0.3),
        connector.save_intermediate_result(first.pk, 0.4),
    ]

    assert all(type(irid) is int for irid in irids)
    steps = list(IntermediateResult.objects.filter(job=first).order_by("number"))
    assert [(step.number, step.pk, step.score_value) for step in steps] == [
        (0, irids[0], 0.1), (1, irids[2], 0.3), (2, irids[3], 0.4)
    ]
    [step] = IntermediateResult.objects.filter(job=second)
    assert (step.number, step.pk, step.score_value) == (0, irids[1], 0.2)
    assert all(step.receive_time is not None for step in steps)


def test_it_gives_a_jobs_intermediate_results_in_order(connector, user, cpu):
    experiment = make_experiment(user, name="curve")
    job, silent = make_job(experiment, cpu), make_job(experiment, cpu)
    make_intermediate_results(job, [0.1, 0.5, 0.3])

    assert connector.get_intermediate_results_job(job.pk) == [0.1, 0.5, 0.3]
    assert connector.get_intermediate_results_job(silent.pk) == []
    assert connector.get_intermediate_results_job(UNKNOWN) == []


def test_it_gives_the_intermediate_results_of_several_jobs(connector, user, cpu):
    experiment = make_experiment(user, name="curves")
    first, silent, third = (make_job(experiment, cpu) for _ in range(3))
    make_intermediate_results(first, [0.1, 0.2])
    make_intermediate_results(third, [0.9])

    # Jobs without results, and unknown jobs, are absent, not empty.
    assert connector.get_intermediate_results_jobs([first.pk, UNKNOWN, silent.pk, third.pk]) == {
        first.pk: [0.1, 0.2],
        third.pk: [0.9],
    }
    assert connector.get_intermediate_results_jobs([third.pk]) == {third.pk: [0.9]}
    assert connector.get_intermediate_results_jobs([]) == {}


def test_it_gives_the_intermediate_results_of_an_experiments_jobs_in_a_status(connector, user, cpu):
    experiment = make_experiment(user, name="by status")
    finished = make_job(experiment, cpu, status="FINISHED")
    failed = make_job(experiment, cpu, status="FAILED")
    make_job(experiment, cpu, status="FINISHED")  # no results: absent
    also_finished = make_job(experiment, cpu, status="FINISHED")
    make_intermediate_results(finished, [0.1, 0.2])
    make_intermediate_results(failed, [0.3])
    make_intermediate_results(also_finished, [0.4])
    make_intermediate_results(make_job(make_experiment(user, name="other"), cpu, status="FINISHED"), [0.5])

    assert connector.get_intermediate_results_experiment(experiment.pk, "FINISHED") == {
        finished.pk: [0.1, 0.2],
        also_finished.pk: [0.4],
    }
    assert connector.get_intermediate_results_experiment(experiment.pk, "FAILED") == {failed.pk: [0.3]}
    assert connector.get_intermediate_results_experiment(experiment.pk, "RUNNING") == {}
    assert connector.get_intermediate_results_experiment(UNKNOWN, "FINISHED") == {}


def test_it_saves_one_labeled_row_per_value(connector, world):
    connector.save_multiple_results(world.jid, world.irid, world.eid, ["accuracy", "loss"], [0.9, 0.1])

    rows = MultipleResult.objects.filter(job_id=world.jid).order_by("label_order")
    assert [(r.label_order, r.experiment_id, r.intermediate_result_id, r.value_decoded, r.is_last) for r in rows] == [
        (1, world.eid, world.irid, 0.9, False),
        (2, world.eid, world.irid, 0.1, False),
    ]
    assert all(row.receive_time is not None for row in rows)
    # Stored so the dashboard shows "accuracy", not "label 1".
    assert labels_of(world.eid) == [(1, "accuracy"), (2, "loss")]


def test_it_saves_multiple_results_without_an_intermediate_result(connector, world):
    connector.save_multiple_results(world.jid, None, world.eid, ["accuracy"], [0.9])

    [row] = MultipleResult.objects.filter(job_id=world.jid)
    assert (row.label_order, row.intermediate_result_id, row.value_decoded) == (1, None, 0.9)


@pytest.mark.parametrize("labels", [None, []], ids=["none", "empty"])
def test_it_names_values_from_the_config_without_labels(connector, user, cpu, labels):
    # Created through the connector, as an executor does: the config carries the names.
    eid = connector.start_experiment("alice", {"name": "cfg", "resource_args": {"multi_res_labels": ["acc", "loss"]}})
    job = make_job(Experiment.objects.get(pk=eid), cpu)

    connector.save_multiple_results(job.pk, None, eid, labels, [0.9, 0.1])

    rows = MultipleResult.objects.filter(job=job).order_by("label_order")
    assert [(row.label_order, row.value_decoded) for row in rows] == [(1, 0.9), (2, 0.1)]
    assert labels_of(eid) == [(1, "acc"), (2, "loss")]


def test_it_names_values_from_the_labels_given(connector, user, cpu):
    eid = connector.start_experiment("alice", {"name": "cfg", "resource_args": {"multi_res_labels": ["a", "b"]}})
    job = make_job(Experiment.objects.get(pk=eid), cpu)

    connector.save_multiple_results(job.pk, None, eid, ["accuracy", "loss"], [0.9, 0.1])

    assert labels_of(eid) == [(1, "accuracy"), (2, "loss")]


@pytest.mark.parametrize("labels, scores", [(["acc"], [0.9, 0.1]), (["acc", "loss"], [0.9])])
def test_it_refuses_labels_that_do_not_match_the_values(connector, world, labels, scores):
    refused(InvalidInputError, lambda: connector.save_multiple_results(world.jid, None, world.eid, labels, scores))


def test_it_refuses_multiple_results_of_a_job_of_another_experiment(connector, world, user):
    other = make_experiment(user, name="other")

    refused(
        ConnectorError,
        lambda: connector.save_multiple_results(world.jid, None, other.pk, ["acc"], [0.9]),
        world.jid,
        other.pk,
    )


@pytest.mark.parametrize("jid, eid", [(UNKNOWN, EID), (JID, UNKNOWN)], ids=["unknown-job", "unknown-experiment"])
def test_it_refuses_unknown_ids_even_without_values(connector, world, jid, eid):
    # An empty list writes nothing, but unknown ids are still the caller's bug to hear of.
    jid, eid = (getattr(world, value) if isinstance(value, Ref) else value for value in (jid, eid))
    refused(ConnectorError, lambda: connector.save_multiple_results(jid, None, eid, [], []), UNKNOWN)


def test_it_marks_the_last_values_of_a_job_as_final(connector, world, cpu):
    job = Job.objects.get(pk=world.jid)
    first = make_multiple_results(job, [0.5, 0.6], intermediate_result=IntermediateResult.objects.get(pk=world.irid))
    last = make_multiple_results(job, [0.7, 0.8])
    # Another job's final values are its own business.
    neighbour = make_job(Experiment.objects.get(pk=world.eid), cpu)
    neighbours = make_multiple_results(neighbour, [0.3, 0.4], is_last=True)

    connector.set_last_multiple_results(world.eid, world.jid, 2)

    marked = set(MultipleResult.objects.filter(is_last=True).values_list("pk", flat=True))
    assert marked == {row.pk for row in last + neighbours}
    assert not marked & {row.pk for row in first}


def test_it_keeps_one_final_set_for_a_retried_job(connector, world, cpu):
    job = Job.objects.get(pk=world.jid)
    first_run = make_multiple_results(job, [0.5, 0.6], is_last=True)
    second_run = make_multiple_results(job, [0.7, 0.8])
    neighbour = make_job(Experiment.objects.get(pk=world.eid), cpu)
    neighbours = make_multiple_results(neighbour, [0.3, 0.4], is_last=True)

    connector.set_last_multiple_results(world.eid, world.jid, 2)

    marked = set(MultipleResult.objects.filter(is_last=True).values_list("pk", flat=True))
    assert marked == {row.pk for row in second_run + neighbours}
    assert not marked & {row.pk for row in first_run}


def test_it_refuses_to_mark_values_of_a_job_of_another_experiment(connector, world, user):
    make_multiple_results(Job.objects.get(pk=world.jid), [0.5])
    other = make_experiment(user, name="other")

    refused(ConnectorError, lambda: connector.set_last_multiple_results(other.pk, world.jid, 1), world.jid, other.pk)


@pytest.mark.parametrize("num_labels", [-1, "2", 1.5, None, True], ids=["negative", "str", "float", "none", "bool"])
def test_it_refuses_a_bad_number_of_labels(connector, world, num_labels):
    make_multiple_results(Job.objects.get(pk=world.jid), [0.5, 0.6])

    refused(InvalidInputError, lambda: connector.set_last_multiple_results(world.eid, world.jid, num_labels))


# -- bad input, for every method ------------------------------------------------------------


BAD_ID_TYPES = {"str": str, "float": float, "bool": lambda value: True, "none": lambda value: None}


@pytest.mark.parametrize(
    "method, position, kind, bad",
    [
        pytest.param(*param.values, bad, id=f"{param.id}-{bad}")
        for param in WRITE_IDS
        for bad in BAD_ID_TYPES
        # irid may be None: multiple results need not belong to a step.
        if not (param.values[2] == "irid" and bad == "none")
    ],
)
def test_it_refuses_an_id_of_the_wrong_type(connector, world, method, position, kind, bad):
    value = BAD_ID_TYPES[bad](getattr(world, kind))
    # A sloppy implementation would accept "3" or 3.0 as the id of a real row.
    refused(InvalidInputError, write_call(connector, world, method, (position, value)), kind)


@pytest.mark.parametrize(
    "method, position, kind", [param for param in WRITE_IDS if param.values[0] != "delete_experiment"]
)
def test_it_refuses_a_write_naming_an_unknown_id(connector, world, method, position, kind):
    refused(ConnectorError, write_call(connector, world, method, (position, UNKNOWN)), UNKNOWN)


@pytest.mark.parametrize("method, position, kind", WRITE_IDS)
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1"])
def test_it_answers_a_write_naming_an_out_of_range_id_with_its_own_error(
    connector, world, method, position, kind, value
):
    call = write_call(connector, world, method, (position, value))
    if method == "delete_experiment":
        # A read-like answer: no such experiment.
        before = db_state()
        try:
            assert call() is False
        except ConnectorError:
            pass
        assert db_state() == before
        return
    refused(ConnectorError, call)


# Reads of an unknown id, with Auptimizer's answer: a value, or the exception it raises.
READS = [
    pytest.param(lambda c, w, x: c.get_running_job(x), [], id="get_running_job"),
    pytest.param(lambda c, w, x: c.get_all_history(x), [], id="get_all_history"),
    pytest.param(lambda c, w, x: c.get_best_result_config(x), None, id="get_best_result_config"),
    pytest.param(lambda c, w, x: c.get_best_result_config(x, maximize=False), None, id="get_best_result_config-min"),
    pytest.param(lambda c, w, x: c.get_intermediate_results_job(x), [], id="get_intermediate_results_job"),
    pytest.param(lambda c, w, x: c.get_intermediate_results_jobs([x]), {}, id="get_intermediate_results_jobs"),
    pytest.param(
        lambda c, w, x: c.get_intermediate_results_jobs([w.jid, x]),
        {"world": [0.1]},
        id="get_intermediate_results_jobs-mixed",
    ),
    pytest.param(
        lambda c, w, x: c.get_intermediate_results_experiment(x, "RUNNING"),
        {},
        id="get_intermediate_results_experiment",
    ),
    pytest.param(lambda c, w, x: c.delete_experiment(x), False, id="delete_experiment"),
    pytest.param(lambda c, w, x: c.get_available_resource(None, "cpu", [x]), ["world"], id="get_available_resource"),
    pytest.param(lambda c, w, x: c.get_experiment_status(x), ValueError, id="get_experiment_status"),
    pytest.param(lambda c, w, x: c.maybe_get_experiment_status(x), ValueError, id="maybe_get_experiment_status"),
    pytest.param(lambda c, w, x: c.get_best_result(x), KeyError, id="get_best_result"),
    pytest.param(lambda c, w, x: c.get_best_result(x, maximize=False), KeyError, id="get_best_result-min"),
]


def expected_answer(expected, world):
    # "world" in a table entry stands for the world's job or resource id.
    if expected == {"world": [0.1]}:
        return {world.jid: [0.1]}
    if expected == ["world"]:
        return [world.rid]
    return expected


@pytest.mark.parametrize("call, expected", READS)
def test_it_answers_a_read_naming_an_unknown_id_as_auptimizer(connector, world, call, expected):
    if isinstance(expected, type):
        refused(expected, lambda: call(connector, world, UNKNOWN), UNKNOWN)
    else:
        assert call(connector, world, UNKNOWN) == expected_answer(expected, world)


@pytest.mark.parametrize("call, expected", READS)
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1"])
def test_it_answers_a_read_naming_an_out_of_range_id_with_its_own_error(connector, world, call, expected, value):
    # Auptimizer's sqlite3 raises OverflowError here; the spec allows only the interface's
    # own exceptions, so: the unknown-id answer, or a ConnectorError (of Auptimizer's type
    # where Auptimizer raises for unknown ids).
    try:
        answer = call(connector, world, value)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        assert isinstance(exc, ConnectorError), f"{type(exc).__name__}: {exc}"
        if isinstance(expected, type):
            assert isinstance(exc, expected)
        return
    assert not isinstance(expected, type), f"answered {answer!r} instead of raising {expected.__name__}"
    assert answer == expected_answer(expected, world)


@pytest.mark.parametrize(
    "call, read_back",
    [
        pytest.param(
            lambda c, w, text: c.log_error_message(w.eid, text),
            lambda w: Experiment.objects.get(pk=w.eid).error_msg,
            id="error-message",
        ),
        pytest.param(
            lambda c, w, text: c.end_job(w.jid, text, "FINISHED"),
            lambda w: Job.objects.get(pk=w.jid).score_value,
            id="score-text",
        ),
        pytest.param(
            lambda c, w, text: c.start_experiment("alice", text, "{}"),
            lambda w: Experiment.objects.exclude(pk=w.eid).get().name,
            id="experiment-name",
        ),
    ],
)
def test_it_stores_or_refuses_text_with_a_nul_character(connector, world, call, read_back):
    # PostgreSQL's text cannot hold NUL: a clear ConnectorError is fine, a driver error is not.
    text = "before\x00after"
    before = db_state()
    try:
        call(connector, world, text)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        assert isinstance(exc, ConnectorError), f"{type(exc).__name__}: {exc}"
        assert db_state() == before
        return
    assert read_back(world) == text


def test_it_answers_reads_of_a_none_id_as_matching_nothing(connector, user, cpu):
    # Auptimizer's early-stopping thread asks for results before its experiment exists
    # (eid None); its SQLiteConnector answers {} ("eid = NULL" matches no row). Raising
    # there would kill the thread and silently turn early stopping off.
    experiment = make_experiment(user)
    make_intermediate_results(make_job(experiment, cpu, status="FINISHED"), [0.5])
    assert connector.get_intermediate_results_experiment(None, "FINISHED") == {}
    assert connector.get_running_job(None) == []
    assert connector.get_all_history(None) == []
    assert connector.get_intermediate_results_job(None) == []
    assert connector.get_best_result_config(None) is None
    with pytest.raises(KeyError):
        connector.get_best_result(None)


def test_it_refuses_label_names_longer_than_the_dashboard_stores(connector, user, cpu):
    # 255 characters, the column's size: SQLite would store more, PostgreSQL refuse it.
    long_name = "x" * 256
    refused(
        InvalidInputError,
        lambda: connector.start_experiment(user.username, {"name": "long", "resource_args": {"multi_res_labels": [long_name]}}),
        "255",
    )
    experiment = make_experiment(user)
    job = make_job(experiment, cpu)
    refused(InvalidInputError, lambda: connector.save_multiple_results(job.pk, None, experiment.pk, [long_name], [1.0]), "255")
    connector.save_multiple_results(job.pk, None, experiment.pk, ["y" * 255], [1.0])
    assert ResultLabel.objects.get(experiment=experiment).name == "y" * 255
