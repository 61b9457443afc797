"""Tags in the admin (notes and tags, issue 13 item 7): searched by name, shown on
experiments, named by the same rule as on the pages."""

import pytest

from tests.factories import make_experiment, make_user, tag_experiment
from tracking.models import Experiment, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_it_lists_and_searches_tags_with_their_experiments(client, root):
    alice = make_user("alice")
    first, second = make_experiment(alice, "first"), make_experiment(alice, "second")
    [baseline] = tag_experiment(first, "baseline")
    tag_experiment(second, "baseline", "resnet")

    found = client.get("/admin/tracking/tag/", {"q": "base"}).content.decode()
    change = client.get(f"/admin/tracking/tag/{baseline.pk}/change/").content.decode()
    tagged = client.get("/admin/tracking/experiment/", {"tags__id__exact": baseline.pk})

    assert ">baseline</a>" in found and "resnet" not in found
    assert f'href="/admin/tracking/experiment/?tags__id__exact={baseline.pk}">2 experiment(s)</a>' in change
    assert tagged.status_code == 200 and tagged.context["cl"].result_count == 2


def test_it_shows_tags_and_notes_on_experiments(client, root):
    experiment = make_experiment(make_user("alice"), "tagged one")
    tag_experiment(experiment, "baseline", "resnet")
    Experiment.objects.filter(pk=experiment.pk).update(notes="<script>alert(1)</script> plan")

    listing = client.get("/admin/tracking/experiment/").content.decode()
    change = client.get(f"/admin/tracking/experiment/{experiment.pk}/change/").content.decode()
    searched = client.get("/admin/tracking/experiment/", {"q": "resnet"})

    assert "baseline, resnet" in listing and "baseline, resnet" in change
    assert "&lt;script&gt;alert(1)&lt;/script&gt; plan" in change and "<script>alert(1)" not in change
    assert searched.context["cl"].result_count == 1


def test_it_names_tags_by_the_pages_rule(client, root):
    response = client.post("/admin/tracking/tag/add/", {"name": "  Paper   Two "})
    refused = client.post("/admin/tracking/tag/add/", {"name": "no/slash"})

    assert response.status_code == 302
    assert list(Tag.objects.values_list("name", flat=True)) == ["paper two"]
    assert refused.status_code == 200 and "is not a tag" in refused.content.decode()
    assert Tag.objects.count() == 1


def test_it_lists_experiments_with_their_tags_in_the_same_queries_at_any_size(client, root):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = make_user("alice")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/tracking/experiment/").status_code == 200
        return len(captured)

    tag_experiment(make_experiment(alice, "e0"), "a", "b")
    before = queries()
    for index in range(1, 15):
        tag_experiment(make_experiment(alice, f"e{index}"), "a", f"t{index}")
    assert queries() == before
