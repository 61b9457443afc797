"""In the browser: the experiment page's controls follow its status without a reload.
Restart and Delete, disabled while an executor may be at work, are offered once the
experiment ends; Request stop goes once a stop is requested. The summary's poll redraws
them (out of band) only when the status they show is not the experiment's any more."""

import pytest
from django.utils import timezone

from tests.browser import wait_until
from tests.factories import make_experiment
from tracking.models import Experiment, ExperimentStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_offers_restart_and_delete_once_the_experiment_ends_without_a_reload(page, login):
    alice = login("alice")
    experiment = make_experiment(alice, "ending", start_time=timezone.now())
    page.goto(f"/experiments/{experiment.pk}/")
    assert page.locator("#experiment-restart").evaluate("e => e.tagName") == "BUTTON"
    assert page.locator("#experiment-delete").get_attribute("aria-disabled") == "true"
    assert page.locator("#experiment-stop").is_visible()
    page.evaluate("window.__not_reloaded = true")
    # A keyboard user waits on Share: the redraws give the focus back.
    page.focus("#experiment-share")
    polled = []
    page.on("request", lambda request: polled.append(request.url) if "controls=RUNNING" in request.url else None)
    page.evaluate(
        "() => { window.__controls = document.querySelector('#experiment-controls'); window.__polls = 0;"
        " document.body.addEventListener('htmx:afterSettle', (e) => { if (e.detail.elt.id === 'summary') window.__polls++; }); }"
    )
    # A poll answered while the status is the same: the controls are not redrawn.
    wait_until(page, "() => window.__polls >= 1", 15)
    assert polled, "the summary's poll sends the controls' status"
    assert page.evaluate("() => document.querySelector('#experiment-controls') === window.__controls") is True

    Experiment.objects.filter(pk=experiment.pk).update(status=ExperimentStatus.REQUEST_STOP)
    wait_until(page, "() => !document.querySelector('#experiment-stop')", 15)
    assert "A stop has been requested" in page.locator("#controls-reason").inner_text()
    assert page.locator("#experiment-restart").get_attribute("aria-disabled") == "true"
    assert page.evaluate("document.activeElement.id") == "experiment-share"

    Experiment.objects.filter(pk=experiment.pk).update(status=ExperimentStatus.STOPPED, end_time=timezone.now())
    wait_until(page, "() => document.querySelector('#experiment-restart').tagName === 'A'", 15)
    assert page.locator("#experiment-restart").get_attribute("href") == f"/experiments/{experiment.pk}/restart/"
    assert page.locator("#experiment-delete").get_attribute("href") == f"/experiments/{experiment.pk}/delete/"
    assert page.locator("#controls-reason").count() == 0
    assert page.locator("#experiment-status").inner_text() == "stopped"
    assert page.evaluate("document.activeElement.id") == "experiment-share"
    assert page.evaluate("window.__not_reloaded") is True
    # Offered, and they work: Restart opens its confirmation.
    page.click("#experiment-restart")
    page.wait_for_url(f"**/experiments/{experiment.pk}/restart/")
