import json

import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_resource, make_user
from tracking.models import IntermediateResult, Job, JobAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(alice, name="mnist", resource_args={"multi_res_labels": ["accuracy", "loss"]})


def test_it_is_a_404_for_unknown_and_foreign_jobs(client, experiment):
    [job] = make_jobs(experiment, 1)
    client.force_login(make_user("bob"))
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get("/jobs/999999/").status_code == 404


def test_it_shows_config_score_attempts_with_retries_and_final_results(client, alice, experiment):
    gpu0, gpu1 = make_resource("gpu", "0"), make_resource("gpu", "1")
    [job] = make_jobs(experiment, 1, steps=5, labels=2, resource=gpu0)
    now = timezone.now()
    JobAttempt.objects.filter(job=job).update(start_time=now - timezone.timedelta(seconds=90), end_time=now - timezone.timedelta(seconds=60))
    JobAttempt.objects.create(job=job, number=1, resource=gpu1, start_time=now - timezone.timedelta(seconds=50), end_time=now)
    client.force_login(alice)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "mnist" in html and "<th scope=\"row\">lr</th>" in html and "optimizer" in html
    assert html.count("<rect class=\"seg") == 2 and "retried" in html
    assert "gpu <span class=\"muted\">0</span>" in html and "gpu <span class=\"muted\">1</span>" in html
    assert "30s" in html and "50s" in html  # attempt durations
    assert "<dt>accuracy</dt>" in html and "<dt>loss</dt>" in html
    assert "style=" not in html and "<script>" not in html
    data = json.loads(html.split('<script id="job-data" type="application/json">')[1].split("</script>")[0])
    assert [series["name"] for series in data["series"]] == ["score", "accuracy", "loss"]
    assert data["series"][0]["data"][0] == [0, 1, 2, 3, 4]


def test_it_shows_nan_and_text_scores_as_what_they_are(client, alice, experiment):
    [job] = make_jobs(experiment, 1, steps=2)
    Job.objects.filter(pk=job.pk).update(score=None, score_text="EARLY STOPPED", status="EARLY_STOPPED")
    IntermediateResult.objects.filter(job=job, number=1).update(score=None, score_text="nan")
    client.force_login(alice)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "EARLY STOPPED" in html and "early stopped" in html
    data = json.loads(html.split('<script id="job-data" type="application/json">')[1].split("</script>")[0])
    assert data["series"][0]["data"][1] == [0.0, None]


@pytest.mark.parametrize("steps", [3, 300])
def test_it_takes_the_same_queries_for_short_or_long_curves(client, alice, experiment, django_assert_num_queries, steps):
    [job] = make_jobs(experiment, 1, steps=steps, labels=2, resource=make_resource())
    JobAttempt.objects.create(job=job, number=1, resource=make_resource(), start_time=timezone.now())
    client.force_login(alice)
    # Queries: session, user, job with experiment and owner, labels, attempts with
    # resources, final labeled values, cursor, score curve (longest, rows), labeled
    # curves (longest, rows).
    with django_assert_num_queries(11):
        response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    # Queries: session, user, job, labels, attempts, final labeled values.
    with django_assert_num_queries(6):
        response = client.get(
            f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-summary", HTTP_HX_TRIGGER="job-summary"
        )
    assert response.status_code == 286  # a finished job: htmx stops polling
    # Queries: session, user, job, labels, then the job payload: cursor, score curve
    # (longest, rows), labeled curves (longest, rows).
    with django_assert_num_queries(9):
        assert client.get(f"/jobs/{job.pk}/chart.json").status_code == 200


def test_it_polls_a_running_job_for_new_points_only(client, alice, experiment, django_assert_num_queries):
    [job] = make_jobs(experiment, 1, steps=3, status="RUNNING", score=None)
    client.force_login(alice)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in html and f'data-url="/jobs/{job.pk}/chart.json"' in html
    summary = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-summary")
    assert summary.status_code == 200 and b"<html" not in summary.content and b"running" in summary.content

    first = client.get(f"/jobs/{job.pk}/chart.json").json()
    assert first["ended"] is False and first["series"][0]["data"][0] == [0, 1, 2]
    # Queries: session, user, job, any new point.
    with django_assert_num_queries(4):
        same = client.get(f"/jobs/{job.pk}/chart.json", {"since": first["cursor"]}).json()
    assert same == {"unchanged": True, "ended": False, "cursor": first["cursor"]}
    IntermediateResult.objects.create(job=job, number=3, score=0.5, receive_time=timezone.now())
    more = client.get(f"/jobs/{job.pk}/chart.json", {"since": first["cursor"]}).json()
    assert more["series"][0]["data"][0] == [0, 1, 2, 3] and more["cursor"] > first["cursor"]
    assert client.get(f"/jobs/{job.pk}/chart.json", {"since": "x"}).status_code == 400

    Job.objects.filter(pk=job.pk).update(status="FINISHED", score=0.5)
    assert client.get(f"/jobs/{job.pk}/chart.json", {"since": more["cursor"]}).json()["ended"] is True


def test_it_is_a_404_for_a_foreign_jobs_fragment_and_chart(client, experiment):
    [job] = make_jobs(experiment, 1)
    client.force_login(make_user("bob"))
    assert client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-summary").status_code == 404
    assert client.get(f"/jobs/{job.pk}/chart.json").status_code == 404


def test_it_says_a_curve_is_downsampled_at_the_servers_budget(client, alice, experiment):
    from tracking.views import JOB_CURVE_BUDGET

    [under] = make_jobs(experiment, 1, steps=JOB_CURVE_BUDGET - 1)
    [at] = make_jobs(experiment, 1, steps=JOB_CURVE_BUDGET)
    client.force_login(alice)
    assert "downsampled" not in client.get(f"/jobs/{under.pk}/").content.decode()
    assert f"({JOB_CURVE_BUDGET} points, downsampled)" in client.get(f"/jobs/{at.pk}/").content.decode()


def test_it_runs_the_job_page_on_one_clock_that_ends_with_the_job(client, alice, experiment):
    [job] = make_jobs(experiment, 1, steps=3, status="RUNNING", score=None)
    client.force_login(alice)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    # The summary's poll is the clock; the chart refreshes on its answers.
    assert html.count("hx-trigger=") == 1 and 'data-clock="job-summary"' in html
    Job.objects.filter(pk=job.pk).update(status="FINISHED", score=0.5)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "hx-trigger=" not in html and "data-clock" not in html
