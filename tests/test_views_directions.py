"""The experiment page's directions form: which way is better for each labeled result."""

import pytest
from django.test import Client

from tests.factories import make_importance_experiment, make_share, make_user
from tracking.models import ResultLabel

pytestmark = pytest.mark.django_db


def post_url(experiment):
    return f"/experiments/{experiment.pk}/directions/"


def directions(experiment):
    return dict(ResultLabel.objects.filter(experiment=experiment).values_list("name", "direction"))


@pytest.fixture
def experiment(alice):
    return make_importance_experiment(alice, jobs=3)


def test_it_shows_its_owner_a_form_with_what_the_default_rule_says(client, alice, experiment):
    client.force_login(alice)
    html = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert f'action="/experiments/{experiment.pk}/directions/"' in html and "csrfmiddlewaretoken" in html
    assert '<label for="direction-1">loss</label>' in html
    assert "automatic (lower is better: the name reads as a cost)" in html
    assert "automatic (higher is better: as the experiment&#x27;s target)" in html


def test_it_shows_a_reader_the_directions_without_a_form(client, experiment):
    reader = make_user("carol")
    make_share(experiment, user=reader)
    client.force_login(reader)
    html = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert 'directions/"' not in html and "Only the experiment's owner changes these." in html
    assert "lower is better <span class=\"muted\">(automatic: the name reads as a cost)" in html


def test_it_saves_the_directions_and_goes_back_to_the_page(client, alice, experiment):
    client.force_login(alice)
    response = client.post(post_url(experiment), {"direction-1": "max", "direction-2": "min"}, follow=True)
    assert response.redirect_chain == [(f"/experiments/{experiment.pk}/", 302)]
    assert directions(experiment) == {"loss": "max", "margin": "min"}
    assert "Directions saved" in response.content.decode()
    client.post(post_url(experiment), {"direction-1": "", "direction-2": "min"})
    assert directions(experiment) == {"loss": None, "margin": "min"}


def test_it_lets_staff_change_anyones(client, experiment):
    client.force_login(make_user("root", is_staff=True))
    client.post(post_url(experiment), {"direction-2": "min"})
    assert directions(experiment)["margin"] == "min"


@pytest.mark.parametrize(
    "data",
    [
        {"direction-1": "max", "direction-2": "up"},
        {"direction-1": "MAX"},
        {"direction-x": "max"},
        {"direction-1": "max", "direction-7": "min"},
        {"direction-١": "max"},
    ],
)
def test_it_refuses_a_bad_value_and_writes_nothing(client, alice, experiment, data):
    client.force_login(alice)
    response = client.post(post_url(experiment), data, follow=True)
    assert response.redirect_chain == [(f"/experiments/{experiment.pk}/", 302)]
    assert directions(experiment) == {"loss": None, "margin": None}
    assert "Directions not saved" in response.content.decode()


def test_it_is_a_403_for_a_reader_and_a_404_for_anyone_else(client, experiment):
    reader = make_user("carol")
    make_share(experiment, user=reader)
    client.force_login(reader)
    assert client.post(post_url(experiment), {"direction-1": "max"}).status_code == 403
    client.force_login(make_user("bob"))
    assert client.post(post_url(experiment), {"direction-1": "max"}).status_code == 404
    assert client.post("/experiments/999999/directions/", {"direction-1": "max"}).status_code == 404
    assert directions(experiment) == {"loss": None, "margin": None}


def test_it_needs_a_post_with_the_csrf_token(alice, experiment):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(post_url(experiment), {"direction-1": "max"}).status_code == 403
    assert client.get(post_url(experiment)).status_code == 405
    assert directions(experiment)["loss"] is None
