"""The stop, restart, delete and share pages look like the rest of the site: the
.button classes of aupsite/static/aupsite/app.css, cards, and times as the other pages write
them (<time datetime="ISO">Y-m-d H:i</time>, never Django's default "Dec. 7, 2026, 1:05 p.m.")."""

import re
from datetime import datetime, timezone as tz

import pytest
from django.test import Client

from tests.factories import make_experiment, make_share, make_user
from tracking.models import Experiment, ExperimentShare

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 4, 13, 5, tzinfo=tz.utc)
END = datetime(2026, 3, 4, 15, 40, tzinfo=tz.utc)
# Django's default DATETIME_FORMAT ("N j, Y, P"): month abbreviations and a.m./p.m.
RAW_DATE = re.compile(r"(Jan|Feb|March|April|May|June|July|Aug|Sept|Oct|Nov|Dec)\.? \d{1,2}, \d{4}|[ap]\.m\.")


def page(user, path):
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def buttons(html):
    """The class attribute of every <button> and of every link drawn as a button in <main>."""
    main = html.split('<main id="main"')[1]
    return re.findall(r'<(?:button|a)\b[^>]*class="(button[^"]*)"', main)


def test_it_styles_the_stop_page_and_formats_its_time(alice):
    experiment = make_experiment(alice, "toy", start_time=START)
    html = page(alice, f"/experiments/{experiment.pk}/stop/")
    assert buttons(html) == ["button primary", "button ghost"]
    assert f'<time datetime="{START.isoformat()}">2026-03-04 13:05</time>' in html
    assert '<span class="badge status-running" id="confirm-status">running</span>' in html
    assert 'class="card confirm"' in html and not RAW_DATE.search(html)


@pytest.mark.parametrize("action, button", [("restart", "Delete its jobs and restart"), ("delete", "Delete the experiment")])
def test_it_styles_the_destructive_pages_and_formats_their_times(alice, action, button):
    experiment = make_experiment(alice, "toy", status="FINISHED", start_time=START, end_time=END)
    html = page(alice, f"/experiments/{experiment.pk}/{action}/")
    assert f'<button type="submit" class="button danger">{button}</button>' in html
    assert buttons(html) == ["button danger", "button ghost"]
    assert '<time datetime="2026-03-04T13:05:00+00:00">2026-03-04 13:05</time>' in html
    assert '<time datetime="2026-03-04T15:40:00+00:00">2026-03-04 15:40</time>' in html
    assert not RAW_DATE.search(html)


def test_it_styles_a_refusal_with_a_way_back(alice):
    experiment = make_experiment(alice, "toy", status="FINISHED", start_time=START)
    html = page(alice, f"/experiments/{experiment.pk}/stop/")
    assert '<p class="alert" role="alert">This experiment is FINISHED' in html
    assert buttons(html) == ["button"] and f'<a class="button" href="/experiments/{experiment.pk}/">Back to the experiment</a>' in html


def test_it_styles_the_share_page_and_formats_when_each_share_began(alice):
    experiment = make_experiment(alice, "toy")
    bob = make_user("bob")
    make_share(experiment, user=bob)
    ExperimentShare.objects.filter(experiment=experiment).update(created_at=START)
    html = page(alice, f"/experiments/{experiment.pk}/share/")
    assert '<table class="data shares">' in html
    assert '<time datetime="2026-03-04T13:05:00+00:00">2026-03-04 13:05</time>' in html
    assert not RAW_DATE.search(html)
    assert buttons(html) == ["button danger", "button primary", "button ghost"]
    assert "Stop sharing<span class=\"visually-hidden\"> with bob</span>" in html


def test_it_keeps_the_share_form_refusal_styled(alice):
    experiment = make_experiment(alice, "toy")
    client = Client()
    client.force_login(alice)
    response = client.post(f"/experiments/{experiment.pk}/share/", {"username": "nobody"})
    html = response.content.decode()
    assert response.status_code == 400 and "There is no user named" in html
    assert '<form method="post" class="share-form">' in html
    assert Experiment.objects.filter(pk=experiment.pk).exists()
