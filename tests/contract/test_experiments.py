"""The contract, experiments: starting, creating, ending, reading, deleting and listing them."""

import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from tests.contract.support import UNKNOWN, assert_now, db_state, labels_of, refused
from tests.factories import make_experiment, make_intermediate_results, make_job, make_multiple_results, make_user
from tracking.interface import InvalidInputError, NotFoundError
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, MultipleResult, ResultLabel

EXPERIMENT_STATUSES = ("CREATED", "RUNNING", "STOPPED", "FINISHED", "FAILED", "STOPPING", "REQUEST_STOP")


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
