"""The API's write path (issue 14, part 1): what each write costs, and that cutting it kept
every rule (who may write where, CSRF for sessions, tokens refused once revoked)."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import make_experiment, make_share, make_token, make_user
from tracking.api import prepared
from tracking.connector import DjangoConnector
from tracking.models import Experiment, IntermediateResult, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "mine"})
    return eid, connector.start_job(eid, cpu.pk, {})


def statements(queries):
    """Each statement as "SELECT <first table>" or "INSERT <table>", without transaction
    control (BEGIN, SAVEPOINT, ...: SQLite's backend sends them as queries, PostgreSQL's
    driver does not)."""
    control = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "COMMIT")
    kinds = []
    for sql in (query["sql"] for query in queries if not query["sql"].startswith(control)):
        if sql.startswith("SELECT"):
            kinds.append("SELECT " + sql.split(" FROM ", 1)[1].split()[0].strip('"'))
        else:
            kinds.append(" ".join(sql.split()[:3]).replace("INTO ", "").replace('"', ""))
    return kinds


def step(api, eid, jid, number):
    """One step as RestConnector sends it: a score, then two labeled values, each with a key."""
    irid = api.post(
        f"/api/jobs/{jid}/intermediate-results/",
        {"score": number / 10},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"s{number}",
    ).json()["irid"]
    labeled = {"eid": eid, "irid": irid, "labels": ["acc", "loss"], "scores": [number / 10, 1 - number / 10]}
    response = api.post(f"/api/jobs/{jid}/multiple-results/", labeled, format="json", HTTP_IDEMPOTENCY_KEY=f"m{number}")
    assert response.status_code == 204


@pytest.mark.parametrize("earlier_steps", [1, 30])
def test_it_records_a_step_in_a_fixed_number_of_queries(api, world, earlier_steps):
    eid, jid = world
    for number in range(earlier_steps):
        step(api, eid, jid, number)

    with CaptureQueriesContext(connection) as queries:
        step(api, eid, jid, 99)

    # Each request: 1. the token and its user, 2. its Idempotency-Key, 3. the job's owner,
    # 4. the new key; the labeled values also 5. the experiment's owner. The writes
    # themselves go to the driver (tracking.connector's hot paths), not counted here.
    assert statements(queries) == [
        "SELECT tracking_apitoken",
        "SELECT tracking_idempotencykey",
        "SELECT tracking_job",
        "INSERT tracking_idempotencykey",
        "SELECT tracking_apitoken",
        "SELECT tracking_idempotencykey",
        "SELECT tracking_job",
        "SELECT tracking_experiment",
        "INSERT tracking_idempotencykey",
    ]
    assert IntermediateResult.objects.filter(job_id=jid).count() == earlier_steps + 1
    assert MultipleResult.objects.filter(job_id=jid).count() == 2 * (earlier_steps + 1)


def test_it_refuses_a_session_write_without_its_csrf_token(user, world):
    eid, jid = world
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    refused = client.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json")
    labeled = {"eid": eid, "irid": None, "labels": ["acc"], "scores": [0.5]}
    also_refused = client.post(f"/api/jobs/{jid}/multiple-results/", labeled, format="json")

    assert refused.status_code == also_refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert not IntermediateResult.objects.exists() and not MultipleResult.objects.exists()
    client.cookies.load({"csrftoken": "a" * 32})
    accepted = client.post(
        f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json", HTTP_X_CSRFTOKEN="a" * 32
    )
    assert accepted.status_code == 201


def test_it_lets_staff_write_to_anyones_job(staff_api, world):
    eid, jid = world

    assert staff_api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json").status_code == 201
    labeled = {"eid": eid, "irid": None, "labels": ["acc"], "scores": [0.5]}
    assert staff_api.post(f"/api/jobs/{jid}/multiple-results/", labeled, format="json").status_code == 204


def test_it_refuses_a_write_to_a_job_shared_to_read_and_hides_anyone_elses(other_api, other_user, world):
    eid, jid = world

    hidden = other_api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json")
    make_share(Experiment.objects.get(pk=eid), user=other_user)
    refused = other_api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.5}, format="json")

    assert hidden.status_code == 404
    assert refused.status_code == 403 and "read, not to change" in refused.json()["detail"]
    assert not IntermediateResult.objects.exists()


def test_it_tells_a_linked_experiment_shared_to_read_from_one_hidden(api, user, other_user, world):
    _, jid = world
    theirs = make_experiment(other_user, "theirs")
    shared = make_experiment(other_user, "shared")
    make_share(shared, user=user)

    def labeled(eid):
        body = {"eid": eid, "irid": None, "labels": ["acc"], "scores": [0.5]}
        return api.post(f"/api/jobs/{jid}/multiple-results/", body, format="json")

    # Visible: the connector says the job is not part of it. Hidden: as a missing one.
    assert labeled(shared.pk).status_code == 400
    assert labeled(theirs.pk).status_code == 404
    assert labeled(theirs.pk).json()["detail"] == labeled(10**12).json()["detail"].replace(str(10**12), str(theirs.pk))
    assert not MultipleResult.objects.exists()


def test_it_refuses_a_token_from_the_request_after_its_revocation(user, world):
    _, jid = world
    token, secret = make_token(user, "soon revoked")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.1}, format="json").status_code == 201

    token.revoke()

    assert client.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 0.2}, format="json").status_code == 401
    assert IntermediateResult.objects.count() == 1


# -- tracking/api/prepared.py --------------------------------------------------------------------


def test_it_compiles_a_prepared_query_once_and_answers_as_the_orm(world):
    eid, _ = world
    built = []

    def build(pk):
        built.append(pk)
        return Experiment.objects.filter(pk=pk).values_list("name", "start_time", "config")

    query = prepared.Prepared(build, prepared.number())

    orm = [list(row) for row in Experiment.objects.filter(pk=eid).values_list("name", "start_time", "config")]
    for _ in range(3):
        assert query.rows(eid) == orm
    assert query.rows(eid + 1000) == []
    assert built == [prepared.number()]


def test_it_refuses_a_build_that_does_not_use_its_placeholder_once(world):
    query = prepared.Prepared(lambda name: Experiment.objects.filter(name="x").values_list("pk"), prepared.text())

    with pytest.raises(ImproperlyConfigured, match="0 times"):
        query.rows("x")


def test_it_inserts_a_row_once_and_says_so(user):
    experiment = make_experiment(user, "labels")

    first = prepared.insert(ResultLabel(experiment=experiment, label_order=1, name="acc"))
    again = prepared.insert(ResultLabel(experiment=experiment, label_order=1, name="x"))  # the same (experiment, order)

    assert (first, again) == (True, False)
    assert list(ResultLabel.objects.values_list("label_order", "name")) == [(1, "acc")]


# -- the labels a connector made for one request finds already there ------------------------------


def test_it_writes_labels_only_when_their_names_change(world, django_assert_num_queries):
    eid, jid = world
    DjangoConnector().save_multiple_results(jid, None, eid, ["acc", "loss"], [0.1, 0.2])

    # A new connector (the API makes one per request): the names are there already, so
    # no upsert (an ORM query); the values go to the driver, uncounted.
    with django_assert_num_queries(0):
        DjangoConnector().save_multiple_results(jid, None, eid, ["acc", "loss"], [0.3, 0.4])
    DjangoConnector().save_multiple_results(jid, None, eid, ["acc", "f1"], [0.5, 0.6])

    assert list(ResultLabel.objects.filter(experiment_id=eid).values_list("label_order", "name")) == [
        (1, "acc"),
        (2, "f1"),
    ]
    assert MultipleResult.objects.filter(job_id=jid).count() == 6
