"""The attempts timelines (job page, resources page) are SVG images: their accessible
names summarise them, beside the table or list that names each attempt."""

import re

import pytest

from tests.factories import make_configured_experiment, make_job, make_recorded_job, make_resource

pytestmark = pytest.mark.django_db


def timeline_label(response):
    return re.search(r'<svg class="timeline"[^>]*aria-label="([^"]*)"', response.content.decode()).group(1)


def test_it_names_a_jobs_timeline_by_its_attempts_and_retries(client, alice):
    experiment = make_configured_experiment(alice)
    client.force_login(alice)
    once = make_job(experiment, attempts=1)
    assert timeline_label(client.get(f"/jobs/{once.pk}/")) == "1 attempt over time; the table below lists them"
    thrice = make_job(experiment, attempts=3)
    assert timeline_label(client.get(f"/jobs/{thrice.pk}/")) == "3 attempts over time, 2 retried; the table below lists them"


def test_it_names_a_resources_timeline_by_its_recent_and_running_attempts(client, alice):
    gpu = make_resource(type="gpu", name="0")
    experiment = make_configured_experiment(alice)
    make_recorded_job(experiment, resource=gpu, status="FINISHED")
    make_recorded_job(experiment, resource=gpu, status="RUNNING")
    client.force_login(alice)
    assert timeline_label(client.get("/resources/")) == (
        "2 recent attempts on gpu 0, 1 running now; the list below names them"
    )
