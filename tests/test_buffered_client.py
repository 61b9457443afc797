"""The buffered client, RestConnector(..., buffered=True) (tracking/buffering.py), over real
HTTP to a live test server on SQLite: order across batches, flush before reads, job ends,
close() and interpreter exit, an outage held and then sent exactly once, the bound that
blocks, provisional ids, refusals raised, several writing threads, and Auptimizer's
Experiment recording through it."""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.factories import make_experiment, make_job, make_resource, make_user
from tests.rest_support import rest_connector
from tests.test_connector_concurrency import PROJECT_DIR
from tracking.buffering import ResultsRefusedError
from tracking.interface import BackendError, InvalidInputError, NotFoundError
from tracking.models import IntermediateResult, Job, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)


def buffered(url_or_server, user, **options):
    """A buffered RestConnector of `user` to the live server (or any address: a proxy)."""
    options.setdefault("flush_interval", 0.05)
    if isinstance(url_or_server, str):
        from tests.factories import make_token
        from tracking.client import RestConnector

        _, secret = make_token(user, "test")
        options.setdefault("backoff", 0.01)
        return RestConnector(url_or_server, secret, buffered=True, **options)
    return rest_connector(url_or_server, user, buffered=True, **options)


@pytest.fixture
def alice(transactional_db):
    return make_user("alice")


@pytest.fixture
def job(alice):
    experiment = make_experiment(alice, config={"resource_args": {"multi_res_labels": ["accuracy", "loss"]}})
    return make_job(experiment, make_resource("cpu"))


def steps_of(job):
    return list(IntermediateResult.objects.filter(job=job).order_by("number").values_list("number", "score"))


def labeled_of(job):
    rows = MultipleResult.objects.filter(job=job).order_by("intermediate_result__number", "label_order")
    return list(rows.values_list("intermediate_result__number", "label_order", "value"))


def test_it_sends_every_result_in_order_across_many_batches(live_server, alice, job):
    connector = buffered(live_server, alice, flush_size=7, flush_interval=0.01)
    for step in range(200):
        irid = connector.save_intermediate_result(job.pk, step / 10)
        connector.save_multiple_results(job.pk, irid, job.experiment_id, ["accuracy", "loss"], [step, -step])
    connector.flush()

    assert steps_of(job) == [(step, step / 10) for step in range(200)]
    assert labeled_of(job) == [(step, order, value) for step in range(200) for order, value in ((1, step), (2, -step))]
    assert list(ResultLabel.objects.values_list("name", flat=True)) == ["accuracy", "loss"]
    connector.close()


def test_it_returns_at_once_and_sends_nothing_until_the_interval_or_the_size(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600, flush_size=10)
    for step in range(9):
        connector.save_intermediate_result(job.pk, step)
    time.sleep(0.3)
    assert steps_of(job) == []  # neither an interval nor a batch's worth yet
    connector.save_intermediate_result(job.pk, 9)  # the tenth: a batch
    deadline = time.monotonic() + 10
    while len(steps_of(job)) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [step for step, _ in steps_of(job)] == list(range(10))
    connector.close()


def test_it_sends_after_the_interval_without_a_flush(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=0.1)
    connector.save_intermediate_result(job.pk, 0.5)
    deadline = time.monotonic() + 10
    while not steps_of(job) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert steps_of(job) == [(0, 0.5)]
    connector.close()


def test_it_flushes_before_a_read(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    for step in range(5):
        connector.save_intermediate_result(job.pk, step)

    assert connector.get_intermediate_results_job(job.pk) == [0, 1, 2, 3, 4]
    assert connector.get_intermediate_results_experiment(job.experiment_id, "RUNNING") == {job.pk: [0, 1, 2, 3, 4]}
    connector.close()


@pytest.mark.parametrize("ending", ["end_job", "job_finished"])
def test_it_flushes_before_the_job_ends(live_server, alice, job, ending):
    connector = buffered(live_server, alice, flush_interval=3600)
    for step in range(5):
        irid = connector.save_intermediate_result(job.pk, step)
        connector.save_multiple_results(job.pk, irid, job.experiment_id, None, [step, step])
    connector.set_last_multiple_results(job.experiment_id, job.pk, 2)
    if ending == "end_job":
        connector.end_job(job.pk, 4, "FINISHED")
    else:
        connector.job_finished(job.attempts.get().resource_id, job.pk, 4, "FINISHED")

    assert [step for step, _ in steps_of(job)] == [0, 1, 2, 3, 4]
    # The job ended after its steps, and the last labeled values are the last step's.
    job.refresh_from_db()
    assert job.status == "FINISHED"
    assert all(result.receive_time <= job.end_time for result in IntermediateResult.objects.filter(job=job))
    last = MultipleResult.objects.filter(job=job, is_last=True)
    assert {result.intermediate_result.number for result in last} == {4}
    connector.close()


def test_it_flushes_on_close(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    irids = [connector.save_intermediate_result(job.pk, step) for step in range(50)]
    connector.close()

    assert len(steps_of(job)) == 50
    assert connector.is_closed()
    assert all(irid < 0 for irid in irids)  # provisional until sent


def test_it_maps_provisional_ids_to_the_servers(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    provisional = [connector.save_intermediate_result(job.pk, step) for step in range(3)]
    # save_multiple_results takes a provisional id, of a step still queued or already sent.
    connector.save_multiple_results(job.pk, provisional[0], job.experiment_id, None, [1.0])
    connector.flush()
    connector.save_multiple_results(job.pk, provisional[1], job.experiment_id, None, [2.0])
    connector.save_multiple_results(job.pk, provisional[1], job.experiment_id, None, [3.0])

    real = [connector.real_irid(irid) for irid in provisional]
    assert real == list(IntermediateResult.objects.filter(job=job).order_by("number").values_list("pk", flat=True))
    assert connector.real_irid(real[2]) == real[2]  # a real id is its own
    connector.flush()
    by_step = sorted(MultipleResult.objects.filter(job=job).values_list("intermediate_result_id", "value"))
    assert by_step == [(real[0], 1.0), (real[1], 2.0), (real[1], 3.0)]
    # A real id from elsewhere is taken too.
    connector.save_multiple_results(job.pk, real[2], job.experiment_id, None, [4.0])
    connector.flush()
    assert MultipleResult.objects.get(value=4.0).intermediate_result_id == real[2]
    connector.close()


def test_it_refuses_ids_it_never_gave_at_once(live_server, alice, job):
    connector = buffered(live_server, alice, flush_interval=3600)
    irid = connector.save_intermediate_result(job.pk, 1)
    other = make_job(job.experiment)
    with pytest.raises(NotFoundError, match="does not exist"):
        connector.save_multiple_results(job.pk, -5, job.experiment_id, None, [1.0])
    with pytest.raises(NotFoundError, match=f"intermediate result {irid} of job {other.pk}"):
        connector.save_multiple_results(other.pk, irid, job.experiment_id, None, [1.0])
    with pytest.raises(InvalidInputError):
        connector.save_intermediate_result(job.pk, [1])
    connector.close()
    assert steps_of(job) == [(0, 1.0)]
    assert not MultipleResult.objects.exists()
