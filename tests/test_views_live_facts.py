"""The facts the live pages' polled fragments carry for their live region
(aupsite/static/aupsite/announce.js): what may be said, and the value that says when it is new."""

import re

import pytest
from django.utils import timezone

from tests.factories import make_configured_experiment, make_jobs
from tracking.models import Experiment, Job

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def facts(response):
    html = response.content.decode()
    return dict(
        (name, (value, text))
        for name, value, text in re.findall(r'<span data-fact="(\w+)" data-value="([^"]*)">([^<]*)</span>', html)
    )


def test_it_gives_the_summary_the_best_job_as_a_fact_and_the_end_only_once_ended(client, alice):
    experiment = make_configured_experiment(alice, name="mnist", n_samples=4)
    jobs = make_jobs(experiment, 3)
    client.force_login(alice)

    summary = client.get(f"/experiments/{experiment.pk}/", HTTP_HX_TARGET="summary", **HX)
    assert facts(summary) == {"best": (f"score:{jobs[-1].pk}", f"New best: job {jobs[-1].number}, score 1.")}
    assert facts(client.get(f"/experiments/{experiment.pk}/")) == facts(summary)  # the page renders the same fragment

    ended = timezone.now()
    Experiment.objects.filter(pk=experiment.pk).update(status="FINISHED", end_time=ended)
    found = facts(client.get(f"/experiments/{experiment.pk}/", HTTP_HX_TARGET="summary", **HX))
    assert found["end"] == (
        f"FINISHED {ended.isoformat()}",
        f"The experiment has ended: finished, 3 of 4 jobs done; best job {jobs[-1].number}, score 1.",
    )


def test_it_has_no_best_fact_before_a_finite_score(client, alice):
    experiment = make_configured_experiment(alice, name="mnist")
    make_jobs(experiment, 2, score=None, status="RUNNING")
    client.force_login(alice)
    assert facts(client.get(f"/experiments/{experiment.pk}/", HTTP_HX_TARGET="summary", **HX)) == {}


def test_it_gives_a_job_summary_its_end_as_a_fact_once_the_job_has_ended(client, alice):
    experiment = make_configured_experiment(alice, name="mnist")
    job = make_jobs(experiment, 1, status="RUNNING", score=None)[0]
    client.force_login(alice)
    assert facts(client.get(f"/jobs/{job.pk}/", HTTP_HX_TARGET="job-summary", **HX)) == {}

    ended = timezone.now()
    Job.objects.filter(pk=job.pk).update(status="FAILED", end_time=ended)
    assert facts(client.get(f"/jobs/{job.pk}/", HTTP_HX_TARGET="job-summary", **HX)) == {
        "end": (f"FAILED {ended.isoformat()}", f"Job {job.number} has ended: failed, no score.")
    }

    # A job still marked running in an ended experiment is not said to have ended.
    Job.objects.filter(pk=job.pk).update(status="RUNNING", end_time=None)
    Experiment.objects.filter(pk=experiment.pk).update(status="STOPPED", end_time=ended)
    assert facts(client.get(f"/jobs/{job.pk}/", HTTP_HX_TARGET="job-summary", **HX))["end"][1] == (
        f"The experiment has ended; job {job.number} is still marked running."
    )
