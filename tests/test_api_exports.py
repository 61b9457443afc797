"""The exports through the API (GET /api/experiments/<eid>/jobs/export/, /api/experiments/export/),
and the reading helper for scripts (RestConnector.read_jobs, read_experiments) against a live server."""

import csv
import io
import json
import math
import sys

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import make_configured_experiment, make_experiment, make_job, make_jobs, make_multiple_results
from tests.factories import make_share, make_user
from tests.rest_support import rest_connector
from tracking import exports
from tracking.interface import InvalidInputError, NotFoundError
from tracking.models import Job


def body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def search(user):
    experiment = make_configured_experiment(
        user, "api search", parameter_config=[{"name": "lr"}], resource_args={"multi_res_labels": ["acc"]}
    )
    jobs = make_jobs(experiment, 6, steps=1, labels=1)
    Job.objects.filter(pk=jobs[0].pk).update(status="FAILED")
    return experiment


@pytest.mark.django_db
def test_it_exports_with_a_token_what_the_page_exports(api, client, user, search):
    client.force_login(user)
    query = "sort=-score&status=FINISHED"

    as_csv = api.get(f"/api/experiments/{search.pk}/jobs/export/?format=csv&{query}")
    as_json = api.get(f"/api/experiments/{search.pk}/jobs/export/?format=json&{query}")

    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv["Content-Disposition"] == 'attachment; filename="api-search-jobs.csv"'
    assert body(as_csv) == body(client.get(f"/experiments/{search.pk}/jobs.csv?{query}"))
    assert as_json["Content-Type"] == "application/json"
    rows = json.loads(body(as_json))
    assert rows == json.loads(body(client.get(f"/experiments/{search.pk}/jobs.json?{query}")))
    assert [row["score"] for row in rows] == [1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6]
    # CSV unless asked otherwise.
    default = api.get(f"/api/experiments/{search.pk}/jobs/export/")
    assert default["Content-Type"] == "text/csv; charset=utf-8"
    assert next(csv.reader(io.StringIO(body(default))))[:3] == ["number", "id", "status"]


@pytest.mark.django_db
def test_it_exports_the_experiments_list_with_a_token(api, user, other_user):
    make_experiment(user, "b mine")
    shared = make_experiment(other_user, "a shared")
    make_share(shared, user=user)
    make_experiment(other_user, "not mine")

    rows = json.loads(body(api.get("/api/experiments/export/?format=json&sort=name")))

    assert [(row["name"], row["owner"]) for row in rows] == [("a shared", "bob"), ("b mine", "alice")]
    listed = list(csv.reader(io.StringIO(body(api.get("/api/experiments/export/?q=mine")))))
    assert [row[1] for row in listed] == ["name", "b mine"]


@pytest.mark.django_db
def test_it_streams_a_chunk_at_a_time(api, search, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 2)
    with CaptureQueriesContext(connection) as queries:
        rows = json.loads(body(api.get(f"/api/experiments/{search.pk}/jobs/export/?format=json")))
    # 1 token, 2 its last use, 3 the experiment, 4 the first configurations, 5 the labels,
    # 6 the jobs, then one query per chunk of 2 for their final values.
    assert len(rows) == 6 and len(queries) == 6 + 3


@pytest.mark.django_db
def test_it_answers_bad_queries_with_400_and_unknown_experiments_with_404(api, other_api, search):
    for query in ("format=xml", "format=CSV", "sort=best", "status=DONE"):
        response = api.get(f"/api/experiments/{search.pk}/jobs/export/?{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail", "errors"}
    assert api.get("/api/experiments/export/?owner=me").status_code == 400
    assert api.get("/api/experiments/export/?sort=-jobs").status_code == 400
    missing = other_api.get(f"/api/experiments/{search.pk}/jobs/export/?format=json")
    assert missing.status_code == 404 and missing.json()["detail"] == f"experiment {search.pk} does not exist"
    assert api.get("/api/experiments/999999/jobs/export/").status_code == 404
    assert APIClient().get(f"/api/experiments/{search.pk}/jobs/export/").status_code == 401
    assert APIClient().get("/api/experiments/export/").status_code == 401
    assert api.post(f"/api/experiments/{search.pk}/jobs/export/").status_code == 405


@pytest.mark.django_db
def test_it_documents_the_exports_in_the_schema(api):
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)

    for path in ("/api/experiments/{eid}/jobs/export/", "/api/experiments/export/"):
        operation = schema["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"text/csv", "application/json"}
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
        parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
        assert parameters["format"]["schema"]["enum"] == ["csv", "json"]
        assert "sort" in parameters and "status" in parameters
        assert {"400", "401", "403", "503"} <= set(operation["responses"])
    assert "404" in schema["paths"]["/api/experiments/{eid}/jobs/export/"]["get"]["responses"]


# -- the reading helper, against a live server ----------------------------------------------------------


@pytest.fixture
def recorded(transactional_db):
    alice = make_user("alice")
    experiment = make_configured_experiment(
        alice, "for scripts", parameter_config=[{"name": "lr"}], resource_args={"multi_res_labels": ["acc", "loss"]}
    )
    good = make_job(experiment, status="FINISHED", config={"lr": 0.1}, score=0.9)
    make_multiple_results(good, [0.9, float("nan")], is_last=True)
    make_job(experiment, status="FAILED", config={}, score=None, score_text="inf")
    make_job(experiment, status="EARLY_STOPPED", config={"lr": 0.3}, score=None, score_text="EARLY STOPPED")
    return alice, experiment


@pytest.mark.django_db(transaction=True)
def test_it_reads_the_jobs_into_a_dataframe(live_server, recorded):
    import pandas  # a test requirement (requirements-dev.txt), not aupsite's

    alice, experiment = recorded
    connector = rest_connector(live_server, alice)

    frame = connector.read_jobs(experiment.pk, sort="id")

    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == [*exports.JOB_COLUMNS, "param.lr", "result.acc", "result.loss"]
    assert list(frame["number"]) == [1, 2, 3]
    assert frame["score"][0] == 0.9 and frame["score"][1] == math.inf and frame["score"][2] == "EARLY STOPPED"
    assert frame["result.acc"][0] == 0.9 and math.isnan(frame["result.loss"][0])
    assert frame["param.lr"][0] == 0.1 and pandas.isna(frame["param.lr"][1])
    assert str(frame["start"].dtype).startswith("datetime64") and str(frame["start"].dt.tz) == "UTC"
    # The table's filters and sort, and the list's.
    assert list(connector.read_jobs(experiment.pk, status="FAILED")["status"]) == ["FAILED"]
    assert list(connector.read_jobs(experiment.pk, sort="-id")["number"]) == [3, 2, 1]
    assert list(connector.read_experiments()["name"]) == ["for scripts"]


@pytest.mark.django_db(transaction=True)
def test_it_reads_a_list_of_dicts_without_pandas(live_server, recorded, monkeypatch):
    alice, experiment = recorded
    connector = rest_connector(live_server, alice)
    monkeypatch.setitem(sys.modules, "pandas", None)  # any import of pandas now fails

    rows = connector.read_jobs(experiment.pk, sort="id")

    assert isinstance(rows, list) and [row["number"] for row in rows] == [1, 2, 3]
    assert rows[0]["score"] == 0.9 and rows[1]["score"] == math.inf and rows[2]["score"] == "EARLY STOPPED"
    assert rows[0]["result.acc"] == 0.9 and math.isnan(rows[0]["result.loss"]) and rows[1]["param.lr"] is None
    assert rows[0]["start"] == experiment.jobs.get(number=1).start_time.isoformat()
    [listed] = connector.read_experiments(q="scripts")
    assert (listed["name"], listed["owner"], listed["jobs_total"], listed["target"]) == ("for scripts", "alice", 3, "max")
    with pytest.raises(ImportError, match="pip install pandas"):
        connector.read_jobs(experiment.pk, frame=True)


@pytest.mark.django_db(transaction=True)
def test_it_raises_the_connectors_errors_when_reading(live_server, recorded):
    alice, experiment = recorded
    bob = rest_connector(live_server, make_user("bob"))
    with pytest.raises(NotFoundError, match=str(experiment.pk)):
        bob.read_jobs(experiment.pk)
    with pytest.raises(InvalidInputError, match="sort"):
        rest_connector(live_server, alice).read_jobs(experiment.pk, sort="best")
    assert rest_connector(live_server, alice).read_jobs(experiment.pk, frame=False)[0]["status"] == "EARLY_STOPPED"
