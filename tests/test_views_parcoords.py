"""Parallel coordinates: parcoords.json, and the brush (b.* keys) followed by the jobs
table, its counts and pages, and the charts' data."""

import math

import pytest

from tests.factories import make_configured_experiment, make_configured_jobs, make_jobs, make_user
from tracking import parcoords
from tracking.connector import DjangoConnector

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
PARAMETERS = [
    {"name": "lr", "range": [1e-4, 0.3], "type": "float", "log": True},
    {"name": "dropout", "range": [0.0, 0.6], "type": "float"},
    {"name": "batch_size", "range": [256, 32, 64], "type": "choice"},
    {"name": "width", "range": [1, 1000], "type": "int"},
]


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(
        alice, name="mnist", parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )


def search(experiment, count):
    """`count` jobs: lr 10**-(1 + i % 4), dropout i/count*0.6, batch size cycling,
    width 10**(i % 3); score i/count; loss (label 2) 1 - score."""
    specs = []
    for i in range(count):
        config = {"lr": 10 ** -(1 + i % 4), "dropout": round(0.6 * i / count, 4),
                  "batch_size": (32, 64, 256)[i % 3], "width": 10 ** (i % 3)}
        specs.append((config, i / count, {2: 1 - i / count}))
    return make_configured_jobs(experiment, specs)


def url(experiment):
    return f"/experiments/{experiment.pk}/parcoords.json"


def page(experiment):
    return f"/experiments/{experiment.pk}/"


def test_it_is_a_404_for_unknown_and_foreign_experiments(client, experiment):
    search(experiment, 3)
    client.force_login(make_user("bob"))
    for path in (url(experiment), "/experiments/999999/parcoords.json"):
        response = client.get(path, {"b.lr": "0..1"})
        assert response.status_code == 404 and b"mnist" not in response.content


@pytest.mark.parametrize(
    "params, message",
    [
        ({"objective": "best"}, "objective must be"),
        ({"objective": "7"}, "objective 7 names no labeled result"),
        ({"b.lr": "0.1"}, "b.lr must be a range"),
        ({"b.depth": "0..1"}, "b.depth names no parameter"),
        ({"b.@9": "0..1"}, "names no labeled result"),
    ],
)
def test_it_refuses_a_malformed_objective_or_brush_clearly(client, alice, experiment, params, message):
    client.force_login(alice)
    response = client.get(url(experiment), params)
    assert response.status_code == 400 and message in response.json()["error"]


def test_it_sends_one_axis_per_parameter_and_one_for_the_objective(client, alice, experiment):
    jobs = search(experiment, 12)
    client.force_login(alice)
    data = client.get(url(experiment)).json()
    axes = {axis["name"]: axis for axis in data["axes"]}
    assert [axis["key"] for axis in data["axes"]] == ["lr", "dropout", "batch_size", "width", "@score"]
    assert axes["lr"]["kind"] == "number" and axes["lr"]["log"]  # declared log
    assert axes["dropout"]["kind"] == "number" and not axes["dropout"]["log"]
    assert (axes["dropout"]["min"], axes["dropout"]["max"]) == (0.0, 0.6)  # the declared range
    assert axes["width"]["log"]  # undeclared, but its values span 3 decades
    # A choice is categorical in its declared order, as the URL names its categories.
    assert axes["batch_size"]["kind"] == "category" and axes["batch_size"]["categories"] == ["256", "32", "64"]
    assert axes["score"]["kind"] == "objective" and axes["score"]["maximize"] is True
    # Columns: one array per axis, parallel to the job ids.
    assert data["jobs"]["id"] == [job.pk for job in jobs] and data["jobs"]["number"] == list(range(1, 13))
    lr, dropout, batch, width, score = data["jobs"]["values"]
    assert lr[:4] == [0.1, 0.01, 0.001, 0.0001] and batch[:3] == [1, 2, 0] and score[3] == 0.25
    assert data["drawn"] == data["total"] == data["inside"] == 12 and not data["sampled"]
    assert "Drawn: all 12 jobs" in data["note"]


def test_it_colours_by_a_labeled_result_with_its_direction(client, alice, experiment):
    search(experiment, 5)
    make_jobs(experiment, 1, status="RUNNING", score=None)
    client.force_login(alice)
    data = client.get(url(experiment), {"objective": "2"}).json()
    assert data["objective"]["name"] == "loss" and data["objective"]["direction"] == "min"
    assert data["axes"][-1] == {"key": "@2", "name": "loss", "kind": "objective", "log": False,
                                "min": 0.2, "max": 1.0, "maximize": False}
    assert data["drawn"] == 5 and data["total"] == 6 and "Not drawn: 1 without one" in data["note"]
    assert [o["key"] for o in data["objectives"]] == ["score", "1", "2"]


def test_it_counts_the_jobs_inside_the_brush(client, alice, experiment):
    search(experiment, 12)
    client.force_login(alice)
    data = client.get(url(experiment), {"b.lr": "0.005..1", "b.batch_size": "in:32,64"}).json()
    # lr 0.1 or 0.01: i % 4 in (0, 1); batch 32 or 64: i % 3 in (0, 1).
    expected = [i for i in range(12) if i % 4 in (0, 1) and i % 3 in (0, 1)]
    assert data["inside"] == len(expected) and data["drawn"] == 12
    assert {b["key"] for b in data["brush"]} == {"lr", "batch_size"}


def test_it_draws_the_best_and_a_stratified_sample_beyond_its_budget(client, alice, experiment, monkeypatch):
    monkeypatch.setattr(parcoords, "DRAW_BUDGET", 30)
    monkeypatch.setattr(parcoords, "BEST", 10)
    monkeypatch.setattr(parcoords.sample, "__defaults__", (30, 10))
    jobs = search(experiment, 100)
    client.force_login(alice)
    data = client.get(url(experiment)).json()
    ids = data["jobs"]["id"]
    assert data["sampled"] and data["drawn"] == 30 and len(set(ids)) == 30
    # The best 10 (the last jobs: score i/100, maximised) and the worst are drawn.
    assert {job.pk for job in jobs[-10:]} <= set(ids) and jobs[0].pk in ids
    # The rest spread over the range: every tenth of the scores below the best has a job.
    scores = data["jobs"]["values"][-1]
    assert {math.floor(s * 10) for s in scores if s < 0.9} == set(range(9))
    assert "the best 10 jobs by score and 20 more sampled evenly" in data["note"] and "of the 100 jobs" in data["note"]
    # Minimised: the best are the lowest.
    minimised = client.get(url(experiment), {"objective": "2"}).json()
    losses = minimised["jobs"]["values"][-1]
    assert sorted(losses)[:10] == pytest.approx([0.01 * k for k in range(1, 11)])


@pytest.mark.parametrize("count", [3, 40])
def test_it_takes_the_same_queries_whatever_the_number_of_jobs(client, alice, experiment, django_assert_num_queries,
                                                              count):
    search(experiment, count)
    client.force_login(alice)
    # Queries: session, user, experiment, labels, the counts (all, with a value, inside
    # the brush), every job's objective value, the drawn jobs' configs.
    with django_assert_num_queries(7):
        assert client.get(url(experiment), {"objective": "2", "b.lr": "..0.01", "b.@2": "..0.5"}).status_code == 200
    # The jobs table with a brush: session, user, experiment, labels, brush counts,
    # the table's count, its page, the page's final labeled values.
    with django_assert_num_queries(8):
        response = client.get(page(experiment), {"b.lr": "..0.01", "b.@score": "0.1.."}, **HX, HTTP_HX_TARGET="jobs")
    assert response.status_code == 200


# -- the brush, followed by the table and the charts -------------------------------------


def table_numbers(html):
    import re

    return sorted(int(n) for n in re.findall(r'id="job-link-\d+">(\d+)</a>', html))


def test_it_filters_the_jobs_table_counts_and_pages_by_the_brush(client, alice, experiment):
    search(experiment, 60)
    client.force_login(alice)
    # lr 0.1 (i % 4 == 0) and a score of at least 0.5 (i >= 30): jobs 33, 37, ..., 57 (numbers i + 1).
    query = {"b.lr": "0.05..", "b.@score": "0.5.."}
    html = client.get(page(experiment), query).content.decode()
    expected = [i + 1 for i in range(60) if i % 4 == 0 and i >= 30]
    assert table_numbers(html) == expected
    assert f'<span class="muted">{len(expected)}</span>' in html  # the table's count
    assert f'<strong>{len(expected)}</strong> of 60 jobs inside' in html
    # Sort, filter and page links keep the brush and every other key of the page.
    fragment = client.get(page(experiment), {**query, "objective": "2", "zoom": "1..4"}, **HX,
                          HTTP_HX_TARGET="jobs").content.decode()
    assert "b.lr=0.05..&amp;b.%40score=0.5..&amp;objective=2&amp;zoom=1..4&amp;sort=-score" in fragment
    assert "b.lr=0.05..&amp;b.%40score=0.5..&amp;objective=2&amp;zoom=1..4&amp;status=FAILED" in fragment
    assert 'id="jobs-brush-clear"' in fragment and 'href="?objective=2&amp;zoom=1..4"' in fragment
    # Pages: 25 jobs a page, all inside the brush.
    wide = client.get(page(experiment), {"b.@score": "0.2.."}).content.decode()
    assert len(table_numbers(wide)) == 25 and "Page 1 of 2" in wide
    # Newest first: page 2 holds jobs 13 to 35 (scores from 0.2).
    second = client.get(page(experiment), {"b.@score": "0.2..", "page": "2"}).content.decode()
    assert table_numbers(second) == list(range(13, 36))


def test_it_ignores_a_malformed_brush_on_the_page(client, alice, experiment):
    search(experiment, 6)
    client.force_login(alice)
    response = client.get(page(experiment), {"b.lr": "lots", "b.nothing": "0..1", "b.@score": "0.5.."})
    assert response.status_code == 200
    assert table_numbers(response.content.decode()) == [4, 5, 6]


def test_it_brushes_the_charts_data_and_refuses_a_malformed_brush(client, alice, experiment):
    search(experiment, 12)
    client.force_login(alice)
    charts = f"/experiments/{experiment.pk}/charts.json"
    data = client.get(charts, {"b.batch_size": "in:256"}).json()
    assert data["history"]["points"][0] == [i + 1 for i in range(12) if i % 3 == 2]
    assert {int(jid) for jid in data["curves"]["data"]} <= set(data["history"]["jids"])
    response = client.get(charts, {"b.batch_size": "256"})
    assert response.status_code == 400 and "b.batch_size must be" in response.json()["error"]


def test_it_keeps_one_cached_chart_payload_per_brush_of_an_ended_experiment(client, alice, experiment):
    search(experiment, 12)
    DjangoConnector().end_experiment(experiment.pk)
    client.force_login(alice)
    charts = f"/experiments/{experiment.pk}/charts.json"
    whole = client.get(charts).json()
    brushed = client.get(charts, {"b.@score": "0.5.."}).json()
    assert len(whole["history"]["jids"]) == 12 and len(brushed["history"]["jids"]) == 6
    assert client.get(charts).json() == whole


def test_it_serves_an_ended_experiments_lines_from_the_cache_per_objective_and_brush(
    client, alice, experiment, django_assert_num_queries
):
    search(experiment, 12)
    DjangoConnector().end_experiment(experiment.pk)
    client.force_login(alice)
    first = client.get(url(experiment)).json()
    # Queries: session, user, experiment, labels, the cache read: nothing recomputed.
    with django_assert_num_queries(5):
        assert client.get(url(experiment)).json() == first
    brushed = client.get(url(experiment), {"b.@score": "0.5.."}).json()
    assert brushed["inside"] == 6 and first["inside"] == 12
    by_loss = client.get(url(experiment), {"objective": "2"}).json()
    assert by_loss["objective"]["name"] == "loss"


@pytest.mark.parametrize("count", [12, 40])
def test_it_keeps_the_brushed_pages_queries_fixed(client, alice, experiment, django_assert_num_queries, count):
    search(experiment, count)
    client.force_login(alice)
    # Queries: session, user, experiment, result labels; the brush's label (read once
    # for the table and the charts); summary: counts by status, best job, signs of life
    # (it runs); jobs table: count, page, final labeled values, brush counts; charts:
    # cursor, curve set, longest curve (no step recorded: no reduced curves), history
    # counts, history rows; notes and tags: its tags, the tags its owner may pick from.
    with django_assert_num_queries(19):
        response = client.get(page(experiment), {"b.lr": "..0.01", "b.@2": "..0.5", "b.batch_size": "in:32"})
    assert response.status_code == 200 and 'id="jobs-brush"' in response.content.decode()
