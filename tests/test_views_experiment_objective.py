"""The experiment page's objective (the score or a labeled result, with its direction)
and the rest of the chart view its URL carries: the history with the best so far, the
best job in the summary, the slice and contour plots follow it, on the page's first
render, in its summary's poll and in charts.json, with a fixed number of queries."""

import json
import re

import pytest

from tests.factories import make_configured_experiment, make_jobs, make_user
from tracking.models import MultipleResult

pytestmark = pytest.mark.django_db

# The final loss of each job, in job order: not monotonic, so the best so far steps down.
LOSSES = [0.9, 0.7, 0.8, 0.5, 0.6, 0.3, 0.4, 0.35]
PARAMETERS = [
    {"name": "lr", "range": [0.001, 0.1], "type": "float", "log": True},
    {"name": "optimizer", "range": ["sgd", "adam"], "type": "choice"},
]


def lossy_experiment(owner, count=len(LOSSES)):
    """An experiment (target max) with an accuracy and a loss per step, whose jobs' final
    losses are LOSSES (repeated past 8 jobs)."""
    experiment = make_configured_experiment(
        owner, parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )
    jobs = make_jobs(experiment, count, steps=3, labels=2)
    for index, job in enumerate(jobs):
        MultipleResult.objects.filter(job=job, label_order=2, is_last=True).update(value=LOSSES[index % len(LOSSES)])
    return experiment, jobs


def charts_url(experiment):
    return f"/experiments/{experiment.pk}/charts.json"


def page_payload(response):
    match = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_it_draws_the_history_of_a_labeled_result_with_its_own_direction(client):
    alice = make_user("alice")
    experiment, jobs = lossy_experiment(alice)
    client.force_login(alice)
    payload = client.get(charts_url(experiment), {"objective": "2"}).json()
    assert payload["objective"]["name"] == "loss" and payload["objective"]["direction"] == "min"
    assert payload["objective_maximize"] is False and payload["maximize"] is True  # the score's stays
    history = payload["history"]
    assert history["points"][1] == LOSSES
    # Lower is better: the best so far only goes down, and ends at the lowest loss.
    best = history["best"][1]
    assert best == sorted(best, reverse=True) and best[-1] == min(LOSSES)
    # The slices plot the loss too; the page offers every objective with its direction.
    assert sorted(history["params"]["series"]["lr"][1]) == sorted(LOSSES)
    assert [(o["key"], o["direction"]) for o in payload["objectives"]] == [("score", "max"), ("1", "max"), ("2", "min")]
    # The contour's best cell is the lowest loss.
    assert history["contour"]["maximize"] is False
    assert min(cell[3] for cell in history["contour"]["cells"]) == min(LOSSES)


def test_it_rejects_an_objective_that_is_not_the_experiments(client):
    alice = make_user("alice")
    experiment, _ = lossy_experiment(alice)
    client.force_login(alice)
    for value in ("loss", "-1", "0"):
        response = client.get(charts_url(experiment), {"objective": value})
        assert response.status_code == 400 and "objective must be" in response.json()["error"]
    response = client.get(charts_url(experiment), {"objective": "7"})
    assert response.status_code == 400 and "objective 7 names no labeled result" in response.json()["error"]
    response = client.get(charts_url(experiment), {"cx": "x" * 6000})
    assert response.status_code == 400 and "cx must be" in response.json()["error"]
    # The brush's keys (parallel coordinates) are read: a range is taken, a malformed one refused.
    assert client.get(charts_url(experiment), {"b.lr": "0.001..0.01"}).status_code == 200
    assert client.get(charts_url(experiment), {"b.lr": "0.001,0.01"}).status_code == 400


def test_it_plots_the_contour_of_the_parameters_asked_for(client):
    alice = make_user("alice")
    experiment, _ = lossy_experiment(alice)
    client.force_login(alice)
    default = client.get(charts_url(experiment)).json()["history"]["contour"]
    assert (default["x"]["name"], default["y"]["name"]) == ("lr", "optimizer")
    swapped = client.get(charts_url(experiment), {"cx": "optimizer", "cy": "lr"}).json()["history"]["contour"]
    assert (swapped["x"]["name"], swapped["y"]["name"]) == ("optimizer", "lr")
    assert swapped["x"]["categories"] == ["sgd", "adam"] and swapped["y"]["scale"] == "log"


def test_it_shows_the_best_job_of_the_objective_in_the_summary_and_its_poll(client):
    alice = make_user("alice")
    experiment, jobs = lossy_experiment(alice)
    client.force_login(alice)
    best_by_loss = jobs[LOSSES.index(min(LOSSES))]
    poll = client.get(
        f"/experiments/{experiment.pk}/", {"objective": "2"}, headers={"HX-Request": "true", "HX-Target": "summary"}
    ).content.decode()
    assert "Best loss" in poll and f"Job {best_by_loss.number}</a>" in poll and "(min)" in poll
    # The score's best, by default.
    plain = client.get(f"/experiments/{experiment.pk}/", headers={"HX-Request": "true", "HX-Target": "summary"})
    assert f"Job {jobs[-1].number}</a>" in plain.content.decode() and "Best score" in plain.content.decode()
    # The page's summary polls with the page's objective (its chooser is included).
    page = client.get(f"/experiments/{experiment.pk}/", {"objective": "2"}).content.decode()
    assert 'hx-include="#objective, #controls-state"' in page
    assert re.search(r'<option value="2" selected>loss \(lower is better\)</option>', page)
    assert f"Job {best_by_loss.number}</a>" in page


def test_it_renders_the_first_draw_as_the_url_says(client):
    alice = make_user("alice")
    experiment, jobs = lossy_experiment(alice, count=14)
    client.force_login(alice)
    worst = jobs[0]  # not among the best 10 by score
    response = client.get(
        f"/experiments/{experiment.pk}/",
        {"objective": "2", "series": "1", "all": "1", "pin": f"{worst.pk},x,999999", "cx": "optimizer", "cy": "lr",
         "logy": "1", "zoom": "1,2", "sort": "id", "b.lr": "0.01,0.1"},
    )
    assert response.status_code == 200
    payload = page_payload(response)
    assert payload["objective"]["key"] == "2" and payload["series"]["value"] == "1" and payload["show_all"] is True
    assert [job["id"] for job in payload["curves"]["jobs"] if job["selected"]] == [worst.pk]
    assert payload["history"]["contour"]["x"]["name"] == "optimizer"


def test_it_ignores_malformed_view_values_on_the_page(client):
    alice = make_user("alice")
    experiment, _ = lossy_experiment(alice)
    client.force_login(alice)
    response = client.get(
        f"/experiments/{experiment.pk}/",
        {"objective": "99", "series": "nope", "all": "maybe", "pin": "1,,\x00", "cx": "\x00"},
    )
    assert response.status_code == 200
    payload = page_payload(response)
    assert payload["objective"]["key"] == "score" and payload["series"]["value"] == "score"
    assert payload["show_all"] is False


@pytest.mark.parametrize("count", [3, 30])
def test_it_takes_the_same_queries_for_the_page_and_charts_with_an_objective(client, django_assert_num_queries, count):
    alice = make_user("alice")
    experiment, jobs = lossy_experiment(alice, count=count)
    client.force_login(alice)
    pins = f"{jobs[0].pk},{jobs[1].pk}"
    # Queries: session, user, experiment, labels, cursor, curve set, longest curve,
    # reduced curves, history counts (of the loss), rows (with their final loss).
    with django_assert_num_queries(10):
        response = client.get(charts_url(experiment), {"objective": "2", "select": pins, "cx": "optimizer"})
    assert response.status_code == 200
    # Queries: session, user, experiment, labels; charts: cursor, curve set, longest
    # curve, reduced curves, history counts, rows; summary: status counts, signs of life
    # (running), best job by loss; the jobs table: count, page, final labeled values;
    # notes and tags: its tags, the tags its owner may pick from.
    with django_assert_num_queries(18):
        page = client.get(f"/experiments/{experiment.pk}/", {"objective": "2", "pin": pins, "all": "1"})
    assert page.status_code == 200
    # The summary's poll with a labeled objective: session, user, experiment, the label,
    # status counts, signs of life, best job by loss.
    with django_assert_num_queries(7):
        client.get(f"/experiments/{experiment.pk}/", {"objective": "2"}, headers={"HX-Request": "true", "HX-Target": "summary"})


def test_it_caches_an_ended_experiments_charts_per_objective_and_pair(client, django_assert_num_queries):
    alice = make_user("alice")
    experiment, _ = lossy_experiment(alice)
    experiment.status = "FINISHED"
    experiment.save()
    client.force_login(alice)
    by_loss = client.get(charts_url(experiment), {"objective": "2"}).json()
    by_score = client.get(charts_url(experiment)).json()
    assert by_loss["history"]["points"] != by_score["history"]["points"]
    # Queries: session, user, experiment, labels, the cache read.
    with django_assert_num_queries(5):
        assert client.get(charts_url(experiment), {"objective": "2"}).json() == by_loss
    swapped = client.get(charts_url(experiment), {"objective": "2", "cx": "optimizer", "cy": "lr"}).json()
    assert swapped["history"]["contour"]["x"]["name"] == "optimizer"
