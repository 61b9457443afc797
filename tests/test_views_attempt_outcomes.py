"""Attempt bars coloured by outcome, on the job page and the resources page, with a
legend and the outcome in words (views.attempt_outcome: a job's status is its last
attempt's outcome; an attempt followed by another one failed)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs, make_resource, make_user
from tracking.models import Job, JobAttempt
from tracking.views import attempt_outcome

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "ended, last, status, outcome",
    [
        (True, False, "FINISHED", "retried"),
        (True, False, "RUNNING", "retried"),
        (False, True, "RUNNING", "running"),
        (True, True, "RUNNING", "retry_pending"),
        (True, True, "FINISHED", "finished"),
        (True, True, "FAILED", "failed"),
        (True, True, "EARLY_STOPPED", "early_stopped"),
        (True, True, None, "no_status"),
        # An attempt left open by a gone executor takes its ended job's status.
        (False, True, "FAILED", "failed"),
    ],
)
def test_it_decides_each_outcome(ended, last, status, outcome):
    assert attempt_outcome(ended, last, status) == outcome


def bar_classes(html):
    return re.findall(r'<rect class="seg ([a-z ]+)"', html)


def with_attempts(job, resources, open_last=False):
    """Give `job` one attempt per resource, five minutes each, the last open if asked."""
    start = timezone.now() - timedelta(hours=1)
    JobAttempt.objects.filter(job=job).delete()
    for number, resource in enumerate(resources):
        end = None if open_last and number == len(resources) - 1 else start + timedelta(minutes=6 * number + 5)
        JobAttempt.objects.create(job=job, number=number, resource=resource, start_time=start + timedelta(minutes=6 * number), end_time=end)


@pytest.mark.parametrize(
    "status, open_last, bars, last_words",
    [
        ("FINISHED", False, ["failed", "failed", "finished"], "finished"),
        ("FAILED", False, ["failed", "failed", "failed"], "failed"),
        ("EARLY_STOPPED", False, ["failed", "failed", "early"], "early stopped"),
        (None, False, ["failed", "failed", "none"], "ended with no status (cancelled)"),
        ("RUNNING", True, ["failed", "failed", "running"], "running"),
        ("RUNNING", False, ["failed", "failed", "failed"], "failed, retry pending"),
    ],
)
def test_it_colours_the_job_pages_bars_and_names_their_outcomes(client, alice, status, open_last, bars, last_words):
    experiment = make_configured_experiment(alice, name="sweep")
    [job] = make_jobs(experiment, 1, status=status or "FINISHED")
    Job.objects.filter(pk=job.pk).update(status=status)
    cpu = make_resource("cpu", "a")
    with_attempts(job, [cpu, cpu, cpu], open_last=open_last)
    client.force_login(alice)
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert bar_classes(html) == bars
    badges = re.findall(r'<td><span class="badge status-([a-z]+)">([^<]+)</span></td>', html)
    assert badges[:2] == [("failed", "failed, retried")] * 2
    assert badges[2][1] == last_words
    # Each bar's title says its outcome, and the legend names the colours.
    assert html.count(", failed, retried</title>") == 2 and f", {last_words}</title>" in html
    assert 'class="timeline-legend" aria-label="Colours of the attempt bars"' in html


def test_it_colours_the_resources_pages_bars_by_outcome(client, alice):
    cpu = make_resource("cpu", "a")
    experiment = make_configured_experiment(alice, name="sweep")
    finished, failed, running, retried = make_jobs(experiment, 4)
    Job.objects.filter(pk=failed.pk).update(status="FAILED")
    Job.objects.filter(pk=running.pk).update(status="RUNNING", end_time=None)
    start = timezone.now() - timedelta(hours=1)
    for index, job in enumerate((finished, failed, running)):
        JobAttempt.objects.filter(job=job).update(
            resource=cpu, start_time=start + timedelta(minutes=10 * index),
            end_time=None if job is running else start + timedelta(minutes=10 * index + 5),
        )
    # The retried job: its first attempt on this resource failed, its second ran elsewhere.
    JobAttempt.objects.filter(job=retried).update(resource=cpu, start_time=start + timedelta(minutes=40), end_time=start + timedelta(minutes=45))
    JobAttempt.objects.create(job=retried, number=1, resource=make_resource("cpu", "b"), start_time=start + timedelta(minutes=46), end_time=start + timedelta(minutes=50))
    theirs = make_configured_experiment(make_user("bob"), name="bobs")
    [their_job] = make_jobs(theirs, 1, status="FAILED")
    JobAttempt.objects.filter(job=their_job).update(resource=cpu, start_time=start + timedelta(minutes=55), end_time=start + timedelta(minutes=56))
    client.force_login(alice)
    html = client.get("/resources/").content.decode()
    row = html.split("<td><span class=\"strong\">cpu</span> a ")[1].split("</tr>")[0]
    # Newest first: bob's (grey, nothing said of it), the retried, the running, the failed, the finished.
    assert bar_classes(row) == ["foreign", "failed", "running", "failed", "finished"]
    assert "failed, retried</span>" in row and ">running</span>" in row and ">finished</span>" in row
    assert "another user's job" in html and "bobs" not in html
    assert "legend-seg foreign" in html


@pytest.mark.parametrize("count", [2, 20])
def test_it_keeps_the_resources_page_queries_constant_with_outcomes(client, alice, django_assert_num_queries, count):
    cpu = make_resource("cpu", "a")
    jobs = make_jobs(make_configured_experiment(alice, name="sweep"), count, resource=cpu)
    for job in jobs:
        JobAttempt.objects.create(job=job, number=1, resource=cpu, start_time=timezone.now(), end_time=timezone.now())
    client.force_login(alice)
    # Queries: session, user, count, the page of resources, their attempts (with the
    # EXISTS of a later attempt).
    with django_assert_num_queries(5):
        assert client.get("/resources/").status_code == 200
