"""Exports of the jobs table and the experiments list (tracking/exports.py), from the pages' links."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    make_configured_experiment,
    make_experiment,
    make_job,
    make_jobs,
    make_multiple_results,
    make_share,
    make_user,
)
from tracking import exports
from tracking.models import Experiment, Job, ResultLabel, Tag

pytestmark = pytest.mark.django_db


def body(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(body(response))))


def json_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(body(response))


def table_ids(client, experiment, query=""):
    """The job ids of the jobs table's first page, in its order, as the page shows them."""
    html = client.get(f"/experiments/{experiment.pk}/{query}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs")
    return [int(jid) for jid in re.findall(r'<tr data-job="(\d+)">', html.content.decode())]


@pytest.fixture
def search(alice):
    """A finished search of 12 jobs: scores 1/12 .. 1, half FINISHED, half FAILED, two labels."""
    experiment = make_configured_experiment(
        alice,
        "search",
        status="FINISHED",
        parameter_config=[{"name": "lr", "range": [0.001, 0.1], "type": "float"}],
        resource_args={"multi_res_labels": ["accuracy", "loss"]},
    )
    jobs = make_jobs(experiment, 12, steps=2, labels=2)
    Job.objects.filter(pk__in=[job.pk for job in jobs[::2]]).update(status="FAILED")
    return experiment


# -- content ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?sort=-score", "?status=FAILED&sort=score", "?sort=start", "?sort=-duration"])
def test_it_exports_the_jobs_the_table_shows_in_its_order(client, alice, search, query):
    client.force_login(alice)
    shown = table_ids(client, search, query)

    from_csv = csv_rows(client.get(f"/experiments/{search.pk}/jobs.csv{query}"))
    from_json = json_rows(client.get(f"/experiments/{search.pk}/jobs.json{query}"))

    assert shown and [int(row[1]) for row in from_csv[1:]] == shown
    assert [row["id"] for row in from_json] == shown


def test_it_exports_every_job_not_only_the_tables_page(client, alice):
    experiment = make_configured_experiment(alice, "big")
    make_jobs(experiment, 30)
    client.force_login(alice)

    assert len(table_ids(client, experiment)) == 25
    assert len(csv_rows(client.get(f"/experiments/{experiment.pk}/jobs.csv"))) == 1 + 30


def test_it_exports_the_columns_and_values_of_each_job(client, alice):
    experiment = make_configured_experiment(
        alice,
        "values",
        parameter_config=[{"name": "lr"}, {"name": "layers"}],
        resource_args={"multi_res_labels": ["accuracy", "loss"]},
    )
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    nan_job = make_job(experiment, status="FINISHED", config={"lr": 0.1, "layers": 3, "seed": 7}, attempts=2,
                       start_time=start, end_time=start + timedelta(seconds=90), score=None, score_text="nan")  # fmt: skip
    make_multiple_results(nan_job, [0.5, float("inf")], is_last=True)
    make_multiple_results(nan_job, [0.1, 0.2])  # an earlier step: not final
    make_job(experiment, status="EARLY_STOPPED", config={"lr": 0.2, "flag": True, "sizes": [1, 2]},
             start_time=start, end_time=start + timedelta(seconds=30), score=None, score_text="EARLY STOPPED")  # fmt: skip
    plain = make_job(experiment, status=None, config=["not", "an", "object"], start_time=None, score=-0.25)
    client.force_login(alice)

    rows = csv_rows(client.get(f"/experiments/{experiment.pk}/jobs.csv?sort=id"))
    data = json_rows(client.get(f"/experiments/{experiment.pk}/jobs.json?sort=id"))

    # Declared parameters first, then the other keys of the jobs' configurations.
    columns = ["number", "id", "status", "score", "start", "end", "duration_seconds", "attempts",
               "param.lr", "param.layers", "param.seed", "param.flag", "param.sizes", "result.accuracy", "result.loss"]  # fmt: skip
    assert rows[0] == columns
    assert [list(row) for row in data] == [columns] * 3
    assert rows[1] == [
        "1", str(nan_job.pk), "FINISHED", "nan", start.isoformat(), (start + timedelta(seconds=90)).isoformat(),
        "90.0", "2", "0.1", "3", "7", "", "", "0.5", "inf",
    ]  # fmt: skip
    assert data[0] == {
        "number": 1, "id": nan_job.pk, "status": "FINISHED", "score": "nan", "start": start.isoformat(),
        "end": (start + timedelta(seconds=90)).isoformat(), "duration_seconds": 90.0, "attempts": 2,
        "param.lr": 0.1, "param.layers": 3, "param.seed": 7, "param.flag": None, "param.sizes": None,
        "result.accuracy": 0.5, "result.loss": "inf",
    }  # fmt: skip
    # A parameter a job lacks: an empty cell, null in JSON. Lists as JSON text in CSV.
    assert rows[2][2:4] == ["EARLY_STOPPED", "EARLY STOPPED"]
    assert rows[2][8:] == ["0.2", "", "", "true", "[1, 2]", "", ""]
    assert (data[1]["param.flag"], data[1]["param.sizes"], data[1]["param.layers"]) == (True, [1, 2], None)
    # No status, no start, a configuration that is not an object: empty cells, no error.
    assert rows[3][:8] == ["3", str(plain.pk), "", "-0.25", "", "", "", "1"]
    assert rows[3][8:] == [""] * 7
    assert data[2]["score"] == -0.25 and data[2]["status"] is None


def test_it_keeps_parameters_and_labels_apart_from_the_jobs_columns(client, alice):
    experiment = make_configured_experiment(alice, "clash", resource_args={"multi_res_labels": ["score", "acc", "acc"]})
    job = make_job(experiment, status="FINISHED", config={"status": "mine", "id": 5}, score=1.0)
    make_multiple_results(job, [0.1, 0.2, 0.3], is_last=True)
    client.force_login(alice)

    [row] = json_rows(client.get(f"/experiments/{experiment.pk}/jobs.json"))

    assert row["status"] == "FINISHED" and row["param.status"] == "mine" and row["id"] == job.pk
    assert (row["score"], row["result.score"], row["result.acc"], row["result.acc (3)"]) == (1.0, 0.1, 0.2, 0.3)


def test_it_exports_the_experiments_the_list_shows_in_its_order(client, alice):
    make_user("carol")
    low = make_configured_experiment(alice, "b-low", target="min")
    make_jobs(low, 4)
    high = make_configured_experiment(alice, "a-high", status="FINISHED")
    make_jobs(high, 2, status="RUNNING")
    high.tags.add(Tag.objects.create(name="resnet"), Tag.objects.create(name="=baseline"))
    make_experiment(alice, "c-other", status="FAILED")
    client.force_login(alice)

    rows = csv_rows(client.get("/experiments.csv?sort=name&status="))
    data = json_rows(client.get("/experiments.json?sort=name&q=-"))

    assert rows[0] == ["id", "name", "owner", "status", "start", "end", "jobs_total", "jobs_done", "best_score",
                       "target", "tags"]  # fmt: skip
    assert [row[1] for row in rows[1:]] == ["a-high", "b-low", "c-other"]
    assert rows[1][2:4] == ["alice", "FINISHED"]
    assert rows[1][6:] == ["2", "0", "1.0", "max", '["=baseline", "resnet"]']
    assert rows[2][6:] == ["4", "4", "0.25", "min", "[]"]
    # Filtered as the list filters: the name's search.
    assert [row["name"] for row in data] == ["a-high", "b-low", "c-other"]
    assert data[0]["tags"] == ["=baseline", "resnet"] and data[1]["best_score"] == 0.25
    assert [row["name"] for row in json_rows(client.get("/experiments.json?q=low"))] == ["b-low"]
    assert [row["name"] for row in json_rows(client.get("/experiments.json?status=FAILED"))] == ["c-other"]
    # ...and by tag, as the list's chips filter it (pages and API alike).
    assert [row["name"] for row in json_rows(client.get("/experiments.json?tag=resnet"))] == ["a-high"]
    assert [row["name"] for row in json_rows(client.get("/api/experiments/export/?format=json&tag=resnet"))] == ["a-high"]


def test_it_ignores_bad_query_values_as_the_pages_do(client, alice, search):
    client.force_login(alice)
    default = csv_rows(client.get(f"/experiments/{search.pk}/jobs.csv"))

    for query in ("?status=DONE", "?sort=%00", "?sort=" + "x" * 6000, "?page=-1&b.lr=garbage", "?status=%ff%fe"):
        assert csv_rows(client.get(f"/experiments/{search.pk}/jobs.csv{query}")) == default, query
    every = json_rows(client.get("/experiments.json"))
    for query in ("?status=DONE", "?sort=best!", "?owner=abc", "?q=%00"):
        assert json_rows(client.get(f"/experiments.json{query}")) == every, query


# -- CSV injection --------------------------------------------------------------------------------------


def test_it_keeps_spreadsheets_from_running_cells_as_formulas(client, alice):
    experiment = make_configured_experiment(alice, "=cmd|' /C calc'!A0", resource_args={"multi_res_labels": ["@label"]})
    job = make_job(experiment, status="FINISHED", score=None, score_text="=1+2",
                   config={"a": "=HYPERLINK(\"http://x\")", "b": "+1+2", "c": "-2+3", "d": "@SUM(A1)", "e": "\tx",
                           "f": "-0.5", "g": "-1e-3", "h": "+7", "i": "safe = text", "j": -3})  # fmt: skip
    make_multiple_results(job, ["-cmd"], is_last=True)
    make_job(experiment, status="FINISHED", score=None, score_text="-inf")
    client.force_login(alice)

    header, first, second = csv_rows(client.get(f"/experiments/{experiment.pk}/jobs.csv?sort=id"))

    assert header[-1] == "result.@label"  # the prefix keeps a header from starting a formula
    assert first[3] == "'=1+2"
    assert first[8:] == ["'=HYPERLINK(\"http://x\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tx", "-0.5", "-1e-3", "+7",
                         "safe = text", "-3", "'-cmd"]  # fmt: skip
    # A number stays a number, the spelling of minus infinity included.
    assert second[3] == "-inf"
    [listed] = csv_rows(client.get("/experiments.csv"))[1:]
    assert listed[1] == "'=cmd|' /C calc'!A0"
    # JSON is no spreadsheet's: values as they are.
    assert json_rows(client.get(f"/experiments/{experiment.pk}/jobs.json?sort=id"))[0]["param.a"] == '=HYPERLINK("http://x")'


def test_it_prefixes_only_texts_that_are_not_numbers():
    assert [exports.csv_cell(value) for value in ("=A1", "-A1", "-1", "-1.5e3", "-inf", "-nan", "+", "@", "", "a=1")] == [
        "'=A1", "'-A1", "-1", "-1.5e3", "-inf", "-nan", "'+", "'@", "", "a=1",
    ]  # fmt: skip
    assert [exports.csv_cell(value) for value in (None, True, False, -2, -0.5, {"k": "=v"}, ["-x"])] == [
        "", "true", "false", -2, -0.5, '{"k": "=v"}', '["-x"]',
    ]  # fmt: skip


# -- file names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, filename",
    [
        ("demo: random search 2 (simulated)", "demo-random-search-2-simulated-jobs.csv"),
        ('../../etc/passwd"; x=\r\n', "etc-passwd-x-jobs.csv"),
        ("résumé ☃ run", "r-sum-run-jobs.csv"),
        ("☃☃", None),
        (None, None),
    ],
)
def test_it_names_the_file_after_the_experiment_safely(client, alice, name, filename):
    experiment = make_experiment(alice, name)
    client.force_login(alice)

    response = client.get(f"/experiments/{experiment.pk}/jobs.csv")

    expected = filename or f"experiment-{experiment.pk}-jobs.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{expected}"'
    assert client.get(f"/experiments/{experiment.pk}/jobs.json")["Content-Disposition"].endswith('-jobs.json"')
    assert client.get("/experiments.csv")["Content-Disposition"] == 'attachment; filename="experiments.csv"'


# -- streaming ----------------------------------------------------------------------------------------


def export_queries(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
        assert isinstance(response, StreamingHttpResponse)
        body(response)  # the rows are read while the body streams
    return len(queries)


def test_it_reads_the_jobs_a_chunk_at_a_time(client, alice, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 2)
    one_chunk = make_configured_experiment(alice, "one", resource_args={"multi_res_labels": ["acc"]})
    make_jobs(one_chunk, 2, steps=1, labels=1)
    three_chunks = make_configured_experiment(alice, "three", resource_args={"multi_res_labels": ["acc"]})
    make_jobs(three_chunks, 6, steps=1, labels=1)
    client.force_login(alice)

    # 1 session, 2 user, 3 the experiment, 4 the first jobs' configurations (columns),
    # 5 the labels, 6 the jobs (one query, read through a cursor), then one query per
    # chunk: its jobs' final labeled values.
    assert export_queries(client, f"/experiments/{one_chunk.pk}/jobs.csv") == 6 + 1
    assert export_queries(client, f"/experiments/{three_chunks.pk}/jobs.csv") == 6 + 3
    assert export_queries(client, f"/experiments/{three_chunks.pk}/jobs.json") == 6 + 3
    assert len(csv_rows(client.get(f"/experiments/{three_chunks.pk}/jobs.csv"))) == 1 + 6


def test_it_reads_the_experiments_a_chunk_at_a_time(client, alice, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 2)
    for index in range(2):
        make_experiment(alice, f"first {index}")
    client.force_login(alice)
    # 1 session, 2 user, 3 the experiments (through a cursor), then per chunk its tags.
    assert export_queries(client, "/experiments.csv") == 3 + 1
    for index in range(4):
        make_experiment(alice, f"more {index}")
    assert export_queries(client, "/experiments.csv") == 3 + 3


def test_it_holds_one_chunk_of_jobs_at_a_time(alice, monkeypatch):
    # The rows come from a generator that reads the next chunk only when the previous
    # one has been written out: after the first row, only the first chunk has been read.
    monkeypatch.setattr(exports, "EXPORT_CHUNK", 3)
    experiment = make_configured_experiment(alice, "lazy", resource_args={"multi_res_labels": ["acc"]})
    make_jobs(experiment, 9, steps=1, labels=1)
    params, labels, _ = exports.job_columns(experiment)
    rows = exports.job_rows(experiment, experiment.jobs.for_table(sort="id"), params, labels)

    with CaptureQueriesContext(connection) as queries:
        next(rows)
    assert len(queries) == 2  # the jobs' cursor, the first chunk's final values
    with CaptureQueriesContext(connection) as queries:
        rest = list(rows)
    assert len(rest) == 8 and len(queries) == 2  # the two other chunks' final values


# -- access ---------------------------------------------------------------------------------------------


def test_it_answers_another_users_experiment_with_404(client, alice, other_user, search):
    client.force_login(other_user)
    for path in (f"/experiments/{search.pk}/jobs.csv", f"/experiments/{search.pk}/jobs.json", "/experiments/999999/jobs.csv"):
        assert client.get(path).status_code == 404


def test_it_exports_only_the_experiments_the_user_may_see(client, alice, other_user):
    make_experiment(alice, "alice's")
    shared = make_experiment(alice, "shared with bob")
    make_share(shared, user=other_user)
    make_experiment(other_user, "bob's")
    client.force_login(other_user)

    assert sorted(row["name"] for row in json_rows(client.get("/experiments.json"))) == ["bob's", "shared with bob"]
    assert csv_rows(client.get(f"/experiments/{shared.pk}/jobs.csv")) == [list(exports.JOB_COLUMNS)]
    staff = make_user("root", is_staff=True)
    client.force_login(staff)
    assert len(json_rows(client.get("/experiments.json"))) == 3
    assert len(json_rows(client.get(f"/experiments.json?owner={other_user.pk}"))) == 1


def test_it_asks_anonymous_users_to_log_in(client, search):
    for path in (f"/experiments/{search.pk}/jobs.csv", "/experiments.json"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# -- the pages' links --------------------------------------------------------------------------------


def links(html, prefix):
    return {kind: href for href, kind in re.findall(rf'<a href="([^"]*)" id="{prefix}-(csv|json)"(?: data-export)? download>', html)}


def test_it_links_the_exports_by_the_jobs_table_with_its_query(client, alice, search):
    client.force_login(alice)
    query = "?status=FAILED&sort=-score&page=1&b.lr=0.01:0.05&objective=1&series=2"

    page = client.get(f"/experiments/{search.pk}/{query}").content.decode()
    fragment = client.get(
        f"/experiments/{search.pk}/{query}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs"
    ).content.decode()

    wanted = "status=FAILED&amp;sort=-score&amp;b.lr=0.01%3A0.05"
    for html in (page, fragment):
        assert links(html, "export-jobs") == {
            "csv": f"/experiments/{search.pk}/jobs.csv?{wanted}",
            "json": f"/experiments/{search.pk}/jobs.json?{wanted}",
        }
    plain = client.get(f"/experiments/{search.pk}/").content.decode()
    assert links(plain, "export-jobs")["csv"] == f"/experiments/{search.pk}/jobs.csv"


def test_it_links_the_exports_by_the_experiments_list_with_its_filters(client, alice, search):
    client.force_login(alice)
    html = client.get("/?q=sea&status=FINISHED&sort=name&page=1").content.decode()
    assert links(html, "export-experiments") == {
        "csv": "/experiments.csv?q=sea&amp;status=FINISHED&amp;sort=name",
        "json": "/experiments.json?q=sea&amp;status=FINISHED&amp;sort=name",
    }


def test_it_shows_no_export_link_for_an_empty_table(client, alice):
    experiment = make_experiment(alice, "empty")
    client.force_login(alice)
    assert 'id="export-jobs-csv"' not in client.get(f"/experiments/{experiment.pk}/").content.decode()


def test_it_refuses_writes(client, alice, search):
    client.force_login(alice)
    assert client.post(f"/experiments/{search.pk}/jobs.csv").status_code == 405
    assert client.post("/experiments.json").status_code == 405
    assert Experiment.objects.count() == 1 and ResultLabel.objects.count() == 2
