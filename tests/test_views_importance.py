"""The experiment page's importance panel (HX-Target: importance) and its cache."""

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_importance_experiment, make_job, make_share, make_user
from tracking import importance, views
from tracking.objectives import score_objective
from tracking.models import Job, ResultLabel

pytestmark = pytest.mark.django_db

PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "importance"}
# The panel asking for itself (its load, or its refresh on the page's clock).
REFRESH = {**PANEL, "HTTP_HX_TRIGGER": "importance"}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


def url(experiment, query=""):
    return f"/experiments/{experiment.pk}/{query}"


def ranked(html):
    """The parameters of the panel's table, in its order."""
    return re.findall(r'<th scope="row" class="strong">([a-z_]+)', html)


def test_it_ranks_the_parameter_that_decides_the_maximised_score_first(client, alice):
    experiment = make_importance_experiment(alice)
    client.force_login(alice)
    response = client.get(url(experiment), **REFRESH)
    html = response.content.decode()
    assert response.status_code == 286  # ended: an htmx poll of it stops
    assert ranked(html)[0] == "lr" and sorted(ranked(html)) == ["dropout", "lr", "optimizer"]
    assert "for <strong>score</strong>, higher is better" in html
    assert "PED-ANOVA" in html and "top 10%" in html and "<meter" in html
    assert 'hx-trigger' not in html  # ended: nothing left to refresh


def test_it_ranks_the_parameter_that_decides_a_minimised_label_first(client, alice):
    experiment = make_importance_experiment(alice)
    client.force_login(alice)
    html = client.get(url(experiment, "?objective=1"), **PANEL).content.decode()
    assert ranked(html)[0] == "dropout"
    assert "for <strong>loss</strong>, lower is better (by default)" in html


def test_it_follows_the_labels_direction_when_its_owner_flips_it(client, alice):
    # margin: its high jobs share lr, its low jobs share dropout.
    experiment = make_importance_experiment(alice)
    client.force_login(alice)
    assert ranked(client.get(url(experiment, "?objective=2"), **PANEL).content.decode())[0] == "lr"
    ResultLabel.objects.filter(experiment=experiment, label_order=2).update(direction="min")
    html = client.get(url(experiment, "?objective=2"), **PANEL).content.decode()
    assert ranked(html)[0] == "dropout" and "for <strong>margin</strong>, lower is better<" in html


def test_it_ranks_the_score_for_a_malformed_or_unknown_objective(client, alice):
    experiment = make_importance_experiment(alice)
    client.force_login(alice)
    for query in ("?objective=9", "?objective=x", "?objective=%00", "?objective=-1"):
        response = client.get(url(experiment, query), **PANEL)
        assert response.status_code == 200 and "for <strong>score</strong>" in response.content.decode()


def test_it_says_when_there_are_not_enough_finished_jobs(client, alice):
    experiment = make_importance_experiment(alice, jobs=importance.MIN_JOBS - 1)
    make_importance_experiment(alice, jobs=5, name="running", job_status="RUNNING")
    client.force_login(alice)
    html = client.get(url(experiment), **PANEL).content.decode()
    assert 'id="importance-not-enough"' in html and "<meter" not in html
    assert f"at least {importance.MIN_JOBS} finished jobs" in html and f"has {importance.MIN_JOBS - 1}." in html


def test_it_counts_only_finished_jobs(client, alice):
    experiment = make_importance_experiment(alice, jobs=importance.MIN_JOBS, status="RUNNING")
    Job.objects.filter(experiment=experiment, number=1).update(status="FAILED")
    client.force_login(alice)
    html = client.get(url(experiment), **PANEL).content.decode()
    assert f"has {importance.MIN_JOBS - 1}." in html


def test_it_puts_a_pending_panel_on_the_page_that_asks_for_itself(client, alice):
    experiment = make_importance_experiment(alice)
    client.force_login(alice)
    html = client.get(url(experiment, "?objective=1")).content.decode()
    assert 'id="importance"' in html and "Ranking the hyperparameters" in html
    assert f'hx-get="/experiments/{experiment.pk}/?objective=1" hx-trigger="load"' in html
    assert "aupsite/importance.js" in html


def test_it_refreshes_on_the_pages_clock_while_the_experiment_runs(client, alice):
    experiment = make_importance_experiment(alice, status="RUNNING")
    client.force_login(alice)
    response = client.get(url(experiment), **REFRESH)
    assert response.status_code == 200
    assert 'hx-trigger="htmx:afterRequest from:#summary" hx-sync="this:drop"' in response.content.decode()


def test_it_is_a_404_for_foreign_experiments_and_shown_to_readers(client, alice):
    experiment = make_importance_experiment(alice)
    client.force_login(make_user("bob"))
    assert client.get(url(experiment), **PANEL).status_code == 404
    reader = make_user("carol")
    make_share(experiment, user=reader)
    client.force_login(reader)
    assert ranked(client.get(url(experiment), **PANEL).content.decode())[0] == "lr"


def test_it_computes_once_until_another_job_finishes(client, alice):
    experiment = make_importance_experiment(alice, status="RUNNING")
    client.force_login(alice)
    client.get(url(experiment), **PANEL)  # computed and cached
    with CaptureQueriesContext(connection) as second:
        client.get(url(experiment), **PANEL)
    # The second answer reads no job configuration: the rows' query is not run.
    assert not any('"tracking_job"."config"' in query["sql"] for query in second.captured_queries)
    # A job that is still running changes nothing; once it has finished, computed again.
    job = make_job(experiment, status="RUNNING", config={"lr": 0.5, "dropout": 0.5, "optimizer": "sgd"}, score=0.5)
    with CaptureQueriesContext(connection) as polled:
        client.get(url(experiment), **PANEL)
    assert not any('"tracking_job"."config"' in query["sql"] for query in polled.captured_queries)
    Job.objects.filter(pk=job.pk).update(status="FINISHED", end_time=timezone.now())
    with CaptureQueriesContext(connection) as third:
        client.get(url(experiment), **PANEL)
    assert any('"tracking_job"."config"' in query["sql"] for query in third.captured_queries)


def test_it_keeps_a_result_per_objective_and_direction(alice):
    experiment = make_importance_experiment(alice)
    from tracking.objectives import find

    first = views.importance_result(experiment, find(experiment, [], "2"))
    ResultLabel.objects.filter(experiment=experiment, label_order=2).update(direction="min")
    second = views.importance_result(experiment, find(experiment, [], "2"))
    assert first["objective"]["direction"] == "max" and second["objective"]["direction"] == "min"
    assert first["importances"][0]["parameter"] == "lr" and second["importances"][0]["parameter"] == "dropout"


@pytest.mark.parametrize("jobs", [25, 250])
def test_it_runs_a_fixed_number_of_queries_whatever_the_number_of_jobs(client, alice, jobs, django_assert_num_queries):
    experiment = make_importance_experiment(alice, jobs=jobs)
    client.force_login(alice)
    # First computation, for a label: session, user, experiment, the label (objectives.find),
    # the finished jobs' version, cache read, the rows, and the cache's write (its count
    # of entries, then in a savepoint the key's row and the insert).
    with django_assert_num_queries(12):
        client.get(url(experiment, "?objective=1"), **PANEL)
    # Cached: session, user, experiment, the label, the version, the cache read.
    with django_assert_num_queries(6):
        client.get(url(experiment, "?objective=1"), **PANEL)
    # The score: no label to read. Cached: session, user, experiment, the version, the cache read.
    client.get(url(experiment), **PANEL)
    with django_assert_num_queries(5):
        client.get(url(experiment), **PANEL)


def test_it_ranks_at_most_the_newest_max_jobs_and_says_so(client, alice, monkeypatch):
    monkeypatch.setattr(importance, "MAX_JOBS", 30)
    experiment = make_importance_experiment(alice, jobs=40)
    result = views.importance_result(experiment, score_objective(experiment))
    assert result["jobs_used"] == 30 and result["message"] == "Ranked on the newest 30 of 40 finished jobs."
    client.force_login(alice)
    assert "Ranked on the newest 30 of 40 finished jobs." in client.get(url(experiment), **PANEL).content.decode()
