"""The experiment page and its two htmx fragments (summary, jobs table)."""

import json
import re

import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_resource, make_share, make_user
from tracking.models import Job, JobAttempt

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(
        alice,
        name="mnist",
        proposer="bayes",
        n_samples=8,
        script="train.py",
        parameter_config=[{"name": "lr", "range": [0.001, 0.1], "type": "float"}],
        resource_args={"multi_res_labels": ["accuracy", "loss"]},
    )


def url(experiment):
    return f"/experiments/{experiment.pk}/"


def test_it_is_a_404_for_unknown_and_foreign_experiments(client, experiment):
    client.force_login(make_user("bob"))
    for path in (url(experiment), "/experiments/999999/"):
        for headers in ({}, {**HX, "HTTP_HX_TARGET": "summary"}, {**HX, "HTTP_HX_TARGET": "jobs"}):
            response = client.get(path, **headers)
            assert response.status_code == 404
            assert b"mnist" not in response.content


def test_it_shows_staff_anyones_experiment(client, experiment):
    client.force_login(make_user("root", is_staff=True))
    assert client.get(url(experiment)).status_code == 200


def test_it_shows_the_configuration_progress_and_best_job(client, alice, experiment):
    jobs = make_jobs(experiment, 4, steps=3, labels=2)
    make_jobs(experiment, 1, status="RUNNING", score=None)
    client.force_login(alice)
    html = client.get(url(experiment)).content.decode()
    assert "bayes" in html and "train.py" in html and "<td class=\"strong\">lr</td>" in html
    assert 'max="8" value="4"' in html and "1 running" in html and "4 finished" in html
    assert f'<a href="/jobs/{jobs[-1].pk}/" id="best-job-link">Job {jobs[-1].number}</a>' in html  # best (max), by its number
    assert 'id="curves-chart"' in html and 'id="chart-data"' in html
    assert "<th scope=\"col\" class=\"num label-col\">accuracy</th>" in html
    # Live: the summary polls (the page's one clock) and the table refreshes on its answers, without overlapping.
    assert 'hx-trigger="every 2s" hx-sync="this:drop"' in html
    assert 'hx-trigger="htmx:afterRequest from:#summary" hx-sync="this:drop"' in html and 'data-clock="summary"' in html
    # Chart data goes through json_script, never inline code or styles.
    assert "style=" not in html and "<script>" not in html


def test_it_shows_non_finite_scores_as_what_they_are(client, alice, experiment):
    nan, stopped, inf = make_jobs(experiment, 3)
    Job.objects.filter(pk=nan.pk).update(score=None, score_text="nan", status="FAILED")
    Job.objects.filter(pk=stopped.pk).update(score=None, score_text="EARLY STOPPED", status="EARLY_STOPPED")
    Job.objects.filter(pk=inf.pk).update(score=None, score_text="inf")
    client.force_login(alice)
    html = client.get(url(experiment)).content.decode()
    assert ">NaN<" in html and ">EARLY STOPPED<" in html and ">inf<" in html
    assert "no finite score yet" in html  # inf is not a best


def test_it_shows_the_first_error_and_the_eta(client, alice, experiment):
    experiment.error_msg = "job 3: CUDA out of memory"
    experiment.start_time = timezone.now() - timezone.timedelta(seconds=100)
    experiment.save()
    make_jobs(experiment, 2)  # 2 of 8 in 100 s: 6 more take 300 s
    client.force_login(alice)
    html = client.get(url(experiment)).content.decode()
    assert "CUDA out of memory" in html
    # 6 more jobs at the pace so far: three times the time elapsed, which is 100 s plus
    # however long this test took to get here (seconds on a loaded machine).
    eta = re.search(r"(\d+)m (\d\d)s", html.partition(">ETA</div>")[2])  # the first duration after the label
    assert 299 <= int(eta[1]) * 60 + int(eta[2]) <= 330


def test_it_renders_the_summary_alone_for_htmx_and_stops_polling_once_ended(client, alice, experiment):
    make_jobs(experiment, 2)
    client.force_login(alice)
    running = client.get(url(experiment), **HX, HTTP_HX_TARGET="summary")
    assert running.status_code == 200
    assert b"<html" not in running.content and b'id="jobs-done">2<' in running.content
    experiment.status = "FINISHED"
    experiment.end_time = timezone.now()
    experiment.save()
    ended = client.get(url(experiment), **HX, HTTP_HX_TARGET="summary", HTTP_HX_TRIGGER="summary")
    assert ended.status_code == 286  # htmx stops polling
    assert b"finished" in ended.content
    page = client.get(url(experiment)).content.decode()
    # An ended experiment's page does not poll at all (issue 13: its importance panel asks
    # for itself once, on load, and that is all).
    assert re.findall(r'hx-trigger="[^"]*"', page) == ['hx-trigger="load"']


def test_it_renders_the_jobs_table_alone_sorted_filtered_and_paged(client, alice, experiment):
    cpu = make_resource("gpu", "0")
    jobs = make_jobs(experiment, 30, resource=cpu)
    failed = jobs[3]
    Job.objects.filter(pk=failed.pk).update(status="FAILED")
    JobAttempt.objects.create(job=failed, number=1, resource=make_resource("gpu", "1"), start_time=timezone.now())
    client.force_login(alice)

    response = client.get(url(experiment), {"sort": "-score"}, **HX, HTTP_HX_TARGET="jobs")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith("<section id=\"jobs\"")
    assert html.index(f'data-job="{jobs[-1].pk}"') < html.index(f'data-job="{jobs[-2].pk}"')
    assert "Page 1 of 2" in html and 'hx-get="/experiments/' in html
    assert "<th scope=\"col\" class=\"param\">lr</th>" in html and "<th scope=\"col\" class=\"param\">optimizer</th>" in html

    html = client.get(url(experiment), {"status": "FAILED"}, **HX, HTTP_HX_TARGET="jobs").content.decode()
    assert html.count("<tr data-job=") == 1 and f'data-job="{failed.pk}"' in html
    assert "2 ↻" in html and "gpu <span class=\"muted\">1</span>" in html  # retried, latest resource

    html = client.get(url(experiment), {"page": "2", "sort": "id"}, **HX, HTTP_HX_TARGET="jobs").content.decode()
    assert f'data-job="{jobs[-1].pk}"' in html and f'data-job="{jobs[0].pk}"' not in html


def test_it_shows_the_final_labeled_results_in_the_table(client, alice, experiment):
    [job] = make_jobs(experiment, 1, steps=4, labels=2)
    client.force_login(alice)
    html = client.get(url(experiment), **HX, HTTP_HX_TARGET="jobs").content.decode()
    last = job.intermediate_results.get(number=3).score
    assert f">{last:.6g}<" in html and f">{2 * last:.6g}<" in html


def test_it_stops_the_table_poll_once_ended_but_still_sorts_on_click(client, alice, experiment):
    experiment.status = "STOPPED"
    experiment.save()
    client.force_login(alice)
    poll = client.get(url(experiment), **HX, HTTP_HX_TARGET="jobs", HTTP_HX_TRIGGER="jobs")
    assert poll.status_code == 286 and b"hx-trigger" not in poll.content
    # A sort link's request is no poll: a plain 200, so htmx pushes its URL.
    click = client.get(url(experiment), {"sort": "-score"}, **HX, HTTP_HX_TARGET="jobs", HTTP_HX_TRIGGER="sort-score")
    assert click.status_code == 200


def test_it_embeds_the_first_chart_data(client, alice, experiment):
    make_jobs(experiment, 3, steps=5)
    client.force_login(alice)
    html = client.get(url(experiment)).content.decode()
    data = json.loads(html.split('<script id="chart-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["curves"]["data"]) == 3 and data["ended"] is False
    assert [option["name"] for option in data["series"]["options"]] == ["score", "accuracy", "loss"]


@pytest.mark.parametrize("count", [2, 20])
def test_it_takes_the_same_queries_for_2_or_20_jobs(client, alice, experiment, django_assert_num_queries, count):
    cpu = make_resource()
    make_jobs(experiment, count, steps=5, labels=2, resource=cpu)
    make_jobs(experiment, 1, status="RUNNING", score=None, steps=3, resource=cpu)
    client.force_login(alice)
    # Queries: session, user, experiment, result labels; summary: counts by status,
    # best job, signs of life (it runs); jobs table: count, page, final labeled values;
    # charts: cursor, curve set, longest curve, reduced curves, history counts, history rows;
    # notes and tags: its tags, the tags its owner may pick from.
    with django_assert_num_queries(18):
        assert client.get(url(experiment)).status_code == 200
    # Queries: session, user, experiment, counts by status, best job, signs of life.
    with django_assert_num_queries(6):
        assert client.get(url(experiment), **HX, HTTP_HX_TARGET="summary").status_code == 200
    # Queries: session, user, experiment, result labels, count, page, final labeled values.
    with django_assert_num_queries(7):
        assert client.get(url(experiment), {"sort": "-duration"}, **HX, HTTP_HX_TARGET="jobs").status_code == 200


def test_it_copes_with_configs_that_are_not_objects(client, alice):
    from tracking.models import Experiment

    odd = Experiment.objects.create(owner=alice, name="odd", config=["not", "a", "dict"], status="RUNNING")
    [job] = make_jobs(odd, 1, steps=2)
    Job.objects.filter(pk=job.pk).update(config=[1, 2])
    client.force_login(alice)
    assert client.get(url(odd)).status_code == 200
    assert client.get(f"/experiments/{odd.pk}/charts.json").status_code == 200
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
    assert client.get("/").status_code == 200


def test_it_offers_the_controls_to_the_owner_and_staff_only(client, experiment):
    # Running: stop and share are links; restart and delete are shown disabled
    # (tests/test_views_experiment_controls.py).
    controls = [f"/experiments/{experiment.pk}/{action}/" for action in ("stop", "share")]
    disabled = ['id="experiment-restart"', 'id="experiment-delete"']
    for viewer in (experiment.owner, make_user("root", is_staff=True)):
        client.force_login(viewer)
        body = client.get(url(experiment)).content.decode()
        assert all(f'href="{control}"' in body for control in controls)
        assert all(control in body for control in disabled)

    reader = make_user("carol")
    make_share(experiment, user=reader)
    client.force_login(reader)
    body = client.get(url(experiment)).content.decode()
    assert client.get(url(experiment)).status_code == 200
    assert not any(control in body for control in controls + disabled)


def test_it_offers_no_stop_once_the_experiment_has_ended(client, experiment):
    experiment.status = "FINISHED"
    experiment.save()
    client.force_login(experiment.owner)
    body = client.get(url(experiment)).content.decode()
    assert f"/experiments/{experiment.pk}/stop/" not in body
    assert f"/experiments/{experiment.pk}/restart/" in body
