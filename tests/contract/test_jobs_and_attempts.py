"""The contract, jobs and attempts: the job records, Auptimizer's job_* helpers, the history.

The scores a job ends with, and the best of them, are tests/contract/test_scores.py's.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.contract.support import UNKNOWN, assert_now, refused, status_of
from tests.factories import hold, make_experiment, make_job, make_resource
from tracking.interface import ConnectorError, InvalidInputError
from tracking.models import Job, JobAttempt, Resource

JOB_STATUSES = ("RUNNING", "EARLY_STOPPED", "FINISHED", "FAILED", None)


def unix(moment):
    return int(moment.timestamp())


def attempts_of(jid):
    return list(JobAttempt.objects.filter(job_id=jid).order_by("number"))


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
    job = make_job(make_experiment(user, name="done"), cpu, attempts=2)
    hold(cpu, job)

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
    hold(world.rid, world.jid)

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
    job = make_job(make_experiment(user, name="flaky"), cpu)
    hold(cpu, job)

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


# Auptimizer stores any JSON value as a job config (json.dumps); its own connector tests
# pass strings such as "job1".
ANY_JSON = ["job1", "", 3, 2.5, True, None, [1, "a", None], {"lr": 0.1}, {}]


@pytest.mark.parametrize("start", ["start_job", "job_started"])
@pytest.mark.parametrize("config", ANY_JSON, ids=repr)
def test_it_stores_any_json_value_as_a_job_config(connector, world, start, config):
    jid = getattr(connector, start)(world.eid, world.rid, config)
    connector.end_job(jid, 0.5, "FINISHED")

    [row] = [row for row in connector.get_all_history(world.eid) if row[0] == jid]
    assert row[6] == json.dumps(config)  # the text Auptimizer's own connector gives
    assert Job.objects.get(pk=jid).config == config
    assert connector.get_best_result_config(world.eid) == (json.dumps(config),)


@pytest.mark.parametrize(
    "config, mention",
    [
        ({1, 2}, "JSON"),
        (b"job1", "JSON"),
        (float("nan"), "JSON"),
        (["inf", float("inf")], "JSON"),
        ("a\x00b", "NUL"),
        ("\udfff", "surrogate"),
        (json.loads("[" * 101 + "]" * 101), "nests more than"),
    ],
    ids=["set", "bytes", "nan", "inf", "nul", "surrogate", "deep"],
)
def test_it_refuses_a_job_config_json_cannot_encode_or_a_database_store(connector, world, config, mention):
    refused(InvalidInputError, lambda: connector.start_job(world.eid, world.rid, config), "job_config", mention)


# -- freeing through a job: only what its attempt took and still holds -----------------------


def holder_of(resource):
    return Resource.objects.filter(pk=getattr(resource, "pk", resource)).values_list("status", "holder").get()


def test_it_leaves_another_executors_resource_busy_when_a_job_recorded_there_ends(connector, second_connector, user, cpu):
    # The attack of issue 12: record a job on a resource another executor holds, without
    # taking it, then end it naming that resource. The job ends; the resource stays held.
    assert second_connector.take_available_resource(cpu.pk) is True
    held = holder_of(cpu)
    experiment = make_experiment(user, name="sly")
    finished = connector.start_job(experiment.pk, cpu.pk, {})
    failed = connector.start_job(experiment.pk, cpu.pk, {})

    connector.job_finished(cpu.pk, finished, 1.0, "FINISHED")
    connector.job_failed(cpu.pk, failed)

    assert holder_of(cpu) == held
    job = Job.objects.get(pk=finished)
    assert (job.status, job.score_value) == ("FINISHED", 1.0) and job.end_time is not None
    assert all(attempt.end_time is not None for jid in (finished, failed) for attempt in attempts_of(jid))


def test_it_leaves_the_resource_busy_when_the_take_of_job_started_or_job_retry_lost(connector, second_connector, user, cpu):
    # The mirror trick: "take" a busy resource in job_started / job_retry (the take loses,
    # the job is recorded there all the same), then free it through the job.
    assert second_connector.take_available_resource(cpu.pk) is True
    held = holder_of(cpu)
    experiment = make_experiment(user, name="crowded")
    jid = connector.job_started(experiment.pk, cpu.pk, {})
    connector.job_failed(cpu.pk, jid)
    assert holder_of(cpu) == held
    connector.job_retry(cpu.pk, jid)
    connector.job_finished(cpu.pk, jid, 0.5, "FINISHED")
    assert holder_of(cpu) == held
    assert Job.objects.get(pk=jid).status == "FINISHED"


def test_it_leaves_a_resource_alone_once_its_job_no_longer_holds_it(connector, second_connector, user, cpu):
    # Taken by job_started, freed, then taken by another executor: the job's attempt
    # took it once, but holds it no more.
    experiment = make_experiment(user, name="handed over")
    jid = connector.job_started(experiment.pk, cpu.pk, {})
    connector.free_used_resource(cpu.pk)
    assert second_connector.take_available_resource(cpu.pk) is True
    held = holder_of(cpu)

    connector.job_finished(cpu.pk, jid, 0.5, "FINISHED")

    assert holder_of(cpu) == held


def test_it_frees_what_its_own_take_reserved_for_a_job_recorded_later(connector, user, cpu):
    # take_available_resource, then start_job (or job_started, whose take then finds it
    # busy): the job holds what its own connector took for it, and ending it frees it.
    gpu = make_resource("gpu")
    experiment = make_experiment(user, name="reserved")
    assert connector.take_available_resource(cpu.pk) is True
    assert connector.take_available_resource(gpu.pk) is True
    first = connector.start_job(experiment.pk, cpu.pk, {})
    second = connector.job_started(experiment.pk, gpu.pk, {})

    connector.job_failed(cpu.pk, first)
    assert connector.take_available_resource(cpu.pk) is True
    connector.start_job_attempt(cpu.pk, first)
    connector.job_finished(cpu.pk, first, 0.1, "FINISHED")
    connector.job_finished(gpu.pk, second, 0.2, "FINISHED")

    assert (status_of(cpu), status_of(gpu)) == ("free", "free")


def test_it_frees_the_resource_a_retried_attempt_took(connector, user, cpu):
    experiment = make_experiment(user, name="retried")
    jid = connector.job_started(experiment.pk, cpu.pk, {})
    connector.end_job_attempt(jid)  # ended without freeing: still held for that attempt
    connector.job_failed(cpu.pk, jid)
    assert status_of(cpu) == "free"
    connector.job_retry(cpu.pk, jid)
    assert status_of(cpu) == "busy"
    connector.job_finished(cpu.pk, jid, 0.3, "FINISHED")
    assert status_of(cpu) == "free"
