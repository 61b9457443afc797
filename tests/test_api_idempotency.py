"""Idempotency keys: a write retried with its key is carried out once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tracking.api import idempotency
from tracking.connector import DjangoConnector
from tracking.interface import BackendError
from tracking.models import Experiment, IdempotencyKey, IntermediateResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def jid(user, cpu):
    connector = DjangoConnector()
    return connector.start_job(connector.start_experiment("alice", {"name": "mine"}), cpu.pk, {})


def save(api, jid, score=0.5, key="key-1"):
    return api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": score}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_it_carries_out_a_retried_write_once_and_replays_its_response(api, jid):
    first = save(api, jid)
    again = save(api, jid)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert IntermediateResult.objects.filter(job_id=jid).count() == 1


def test_it_carries_out_writes_with_different_keys(api, jid):
    save(api, jid, key="key-1")
    save(api, jid, key="key-2")
    api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json")  # no key

    assert IntermediateResult.objects.filter(job_id=jid).count() == 3


def test_it_refuses_a_key_reused_for_another_request(api, jid):
    save(api, jid, score=0.5)

    response = save(api, jid, score=0.6)

    assert response.status_code == 422
    assert "key-1" in response.json()["detail"]
    assert list(IntermediateResult.objects.values_list("score", flat=True)) == [0.5]


def test_it_keeps_each_users_keys_apart(api, staff_api, jid):
    save(api, jid)
    # Staff may write to alice's job; the same key of another user is another write.
    response = save(staff_api, jid)

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert IntermediateResult.objects.filter(job_id=jid).count() == 2


def test_it_replays_a_refusal_too(api, jid):
    first = api.post(f"/api/jobs/{jid}/end/", {"status": "DONE"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = api.post(f"/api/jobs/{jid}/end/", {"status": "DONE"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_it_replays_a_write_without_content(api, jid):
    first = api.post(f"/api/jobs/{jid}/status/", {"status": "FAILED"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = api.post(f"/api/jobs/{jid}/status/", {"status": "FAILED"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == again.status_code == 204
    assert again.content == b""


def test_it_stores_no_key_for_a_write_that_failed_on_the_server(api, jid, monkeypatch):
    calls = []
    real = DjangoConnector.save_intermediate_result

    def fail_once(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise BackendError("save_intermediate_result: the database failed: database is locked")
        return real(self, *args)

    monkeypatch.setattr(DjangoConnector, "save_intermediate_result", fail_once)

    assert save(api, jid).status_code == 503
    assert not IdempotencyKey.objects.exists()
    # The retry really tries again, and this time it is written.
    response = save(api, jid)
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert IntermediateResult.objects.filter(job_id=jid).count() == 1


def test_it_forgets_keys_after_a_day(api, jid):
    save(api, jid)
    IdempotencyKey.objects.update(created=IdempotencyKey.objects.get().created - timedelta(hours=24, seconds=1))

    response = save(api, jid)

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert IntermediateResult.objects.filter(job_id=jid).count() == 2
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 101, "ünïcode"])
def test_it_refuses_a_malformed_key(api, jid, key):
    response = save(api, jid, key=key.encode("utf-8").decode("latin-1"))

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not IntermediateResult.objects.exists()


def test_it_ignores_a_key_on_a_read(api, jid):
    api.get(f"/api/jobs/{jid}/intermediate-results/", HTTP_IDEMPOTENCY_KEY="k")

    assert not IdempotencyKey.objects.exists()


def test_it_replays_the_name_an_experiment_got_on_its_first_try(api, user):
    body = {"exp_config": {"name": "toy"}}
    first = api.post("/api/experiments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").json()
    again = api.post("/api/experiments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").json()

    # Not "toy (1)": the retry is the same experiment.
    assert again == first == {"eid": Experiment.objects.get().pk, "name": "toy"}


# -- issue 14 (fastpath): expired keys are purged now and then, not on every write ---------------


def old_key(user, key):
    expired = timezone.now() - IdempotencyKey.EXPIRES_AFTER - timedelta(seconds=1)
    return IdempotencyKey.objects.create(user=user, key=key, request_hash="x", status_code=204, created=expired)


def test_it_purges_expired_keys_at_most_every_ten_minutes(api, user, jid, monkeypatch):
    clock = [10_000.0]
    monkeypatch.setattr(idempotency.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(idempotency, "_next_purge", 0.0)  # as a process that has not purged yet
    old_key(user, "old-1")

    save(api, jid, key="new-1")  # the process's first keyed write purges
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"new-1"}

    old_key(user, "old-2")
    clock[0] += idempotency.PURGE_EVERY - 1
    save(api, jid, key="new-2")
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"new-1", "new-2", "old-2"}

    clock[0] += 1
    save(api, jid, key="new-3")
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"new-1", "new-2", "new-3"}


def test_it_never_replays_an_expired_key_that_is_not_purged_yet(api, user, jid, monkeypatch):
    monkeypatch.setattr(idempotency, "_next_purge", float("inf"))  # no purge in this test
    old_key(user, "key-1")

    response = save(api, jid, key="key-1")

    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    assert IntermediateResult.objects.filter(job_id=jid).count() == 1
    assert IdempotencyKey.objects.get(key="key-1").status_code == 201
