"""The experiment page's controls as the controls themselves decide them: Restart and
Delete are shown disabled, with the reason, whenever a POST to them would be refused
(Experiment.busy_reason in tracking/models.py, the one rule of both)."""

import re

import pytest
from django.test import Client

from tests.factories import make_experiment
from tracking.models import ExperimentStatus

pytestmark = pytest.mark.django_db


def page_of(user, experiment):
    client = Client()
    client.force_login(user)
    return client, client.get(f"/experiments/{experiment.pk}/").content.decode()


def control(body, name):
    """The markup of the control whose id is experiment-`name`."""
    match = re.search(rf'<(a|button)\b[^>]*id="experiment-{name}"[^>]*>', body)
    assert match, f"no {name} control"
    return match.group(0)


def test_it_shows_restart_and_delete_disabled_with_the_reason_while_running(alice):
    experiment = make_experiment(alice, "busy")
    _, body = page_of(alice, experiment)
    for name in ("restart", "delete"):
        tag = control(body, name)
        assert tag.startswith("<button") and 'aria-disabled="true"' in tag
        assert 'aria-describedby="controls-reason"' in tag and "href" not in tag
        assert f'/experiments/{experiment.pk}/{name}/' not in body
    assert 'id="controls-reason">Restart and Delete: Stop the experiment first' in body
    # Stop is what to do instead, and it is offered.
    assert f'href="/experiments/{experiment.pk}/stop/"' in body


def test_it_says_to_wait_once_a_stop_is_requested(alice):
    experiment = make_experiment(alice, "stopping", status="REQUEST_STOP")
    _, body = page_of(alice, experiment)
    assert 'aria-disabled="true"' in control(body, "restart")
    assert "A stop has been requested: wait until its executor has ended the experiment." in body


def test_it_offers_restart_and_delete_once_ended(alice):
    experiment = make_experiment(alice, "done", status="FINISHED")
    _, body = page_of(alice, experiment)
    for name in ("restart", "delete"):
        tag = control(body, name)
        assert tag.startswith("<a") and f'href="/experiments/{experiment.pk}/{name}/"' in tag
    assert "controls-reason" not in body


@pytest.mark.parametrize("status", ExperimentStatus.values)
@pytest.mark.parametrize("name", ["restart", "delete"])
def test_it_disables_exactly_what_the_control_refuses(alice, status, name):
    """Page and control agree for every status: disabled on the page if and only if the
    POST is refused (409)."""
    experiment = make_experiment(alice, f"exp {status}", status=status)
    client, body = page_of(alice, experiment)
    disabled = 'aria-disabled="true"' in control(body, name)
    refused = client.post(f"/experiments/{experiment.pk}/{name}/").status_code == 409
    assert disabled == refused


# -- the controls follow the status without a reload (tidy): the summary's poll sends the
# status they were drawn for (`controls`, hx-include of #controls-state) and its answer
# redraws them out of band only when that is not the experiment's status any more.

def poll(client, experiment, drawn_for):
    return client.get(
        f"/experiments/{experiment.pk}/", {"controls": drawn_for},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="summary", HTTP_HX_TRIGGER="summary",
    )


def test_it_draws_the_controls_for_the_poll_with_the_status_they_show(alice):
    experiment = make_experiment(alice, "busy")
    client, body = page_of(alice, experiment)
    assert '<input type="hidden" id="controls-state" name="controls" value="RUNNING">' in body
    assert 'hx-include="#objective, #controls-state"' in body
    assert 'hx-swap-oob' not in body


def test_it_leaves_the_controls_alone_while_the_status_is_the_same(alice):
    experiment = make_experiment(alice, "busy")
    client, _ = page_of(alice, experiment)
    answer = poll(client, experiment, "RUNNING").content.decode()
    assert "experiment-controls" not in answer and "experiment-restart" not in answer


def poll_once_it_became(user, status):
    """The summary's poll from a page drawn while the experiment ran, once it is `status`."""
    experiment = make_experiment(user, "was running")
    client, _ = page_of(user, experiment)
    experiment.status = status
    experiment.save(update_fields=["status"])
    return poll(client, experiment, "RUNNING")


def test_it_redraws_the_controls_out_of_band_once_the_experiment_has_ended(alice):
    response = poll_once_it_became(alice, ExperimentStatus.FINISHED)
    assert response.status_code == 286  # the last tick: htmx swaps it, then stops
    answer = response.content.decode()
    assert '<div id="experiment-controls" class="experiment-controls" hx-swap-oob="true">' in answer
    for name in ("restart", "delete"):
        assert control(answer, name).startswith("<a")
    assert "controls-reason" not in answer and "experiment-stop" not in answer


def test_it_redraws_the_controls_once_a_stop_is_requested(alice):
    answer = poll_once_it_became(alice, ExperimentStatus.REQUEST_STOP).content.decode()
    assert 'hx-swap-oob="true"' in answer and "experiment-stop" not in answer
    assert 'aria-disabled="true"' in control(answer, "restart")
    assert "A stop has been requested" in answer
    assert 'value="REQUEST_STOP"' in answer  # the next polls send it back: no redraw


@pytest.mark.parametrize("drawn_for", ["", "RUNNING\x00", "running", "x" * 5000])
def test_it_sends_no_controls_for_a_missing_or_malformed_status(alice, drawn_for):
    experiment = make_experiment(alice, "done", status="FINISHED")
    client, _ = page_of(alice, experiment)
    assert "experiment-controls" not in poll(client, experiment, drawn_for).content.decode()


def test_it_sends_no_controls_to_a_reader(alice):
    from tests.factories import make_share, make_user

    experiment = make_experiment(alice, "shared", status="FINISHED")
    carol = make_user("carol")
    make_share(experiment, user=carol)
    client, body = page_of(carol, experiment)
    assert 'id="controls-state"' not in body and "experiment-restart" not in body
    answer = poll(client, experiment, "RUNNING").content.decode()
    assert "experiment-controls" not in answer and "experiment-restart" not in answer
