"""In the browser: a running experiment waits for an executor until its first job, and
staff reset an experiment whose executor is gone from its page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.test_dashboard import wait_until
from tests.factories import make_experiment, make_recorded_job, make_resource, make_user
from tracking.connector import DjangoConnector
from tracking.models import Experiment

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_waits_for_an_executor_until_the_first_job_arrives(page, login):
    login("alice")
    connector = DjangoConnector()
    try:
        eid = connector.start_experiment("alice", {"name": "restarted"})
        page.goto(f"/experiments/{eid}/")
        assert page.locator("#experiment-waiting").is_visible()
        assert page.locator("#experiment-waiting-mark").inner_text() == "waiting for an executor"
        assert page.locator(".live-dot").count() == 0

        connector.job_started(eid, make_resource().pk, {"lr": 0.1})

        # The summary's next poll: the job is there, the notice gone, the page live.
        wait_until(page, "() => !document.querySelector('#experiment-waiting') && !!document.querySelector('.live-dot')")
        wait_until(page, "() => document.querySelectorAll('#jobs tbody tr').length === 1")
    finally:
        connector.close()


def test_it_lets_staff_reset_an_experiment_whose_executor_is_gone(page, login):
    login("root", is_staff=True)
    long_ago = timezone.now() - timedelta(hours=2)
    experiment = make_experiment(make_user("alice"), "crashed", start_time=long_ago)
    make_recorded_job(experiment, make_resource(), started=long_ago)

    page.goto(f"/experiments/{experiment.pk}/")
    assert "No sign of life for" in page.locator("#experiment-quiet").inner_text()
    assert page.locator("#repair-command").inner_text() == f".venv/bin/python manage.py aup_reset --experiment {experiment.pk}"
    page.click("#experiment-reset")
    page.wait_for_url(f"**/experiments/{experiment.pk}/reset/")
    assert "RUNNING -> FAILED" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.click("button[type=submit].danger")

    assert page.locator("#experiment-status").inner_text() == "failed"
    assert "Reset: experiment" in page.locator(".messages").inner_text()
    assert page.locator("#experiment-quiet").count() == 0
    assert Experiment.objects.get(pk=experiment.pk).status == "FAILED"
