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
