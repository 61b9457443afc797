from datetime import timedelta

import pytest

from tests.factories import make_configured_experiment, make_jobs, make_user
from tracking.models import Experiment

pytestmark = pytest.mark.django_db


def test_it_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_it_shows_how_to_start_when_there_is_nothing(client, alice):
    client.force_login(alice)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No experiments yet" in response.content
    assert b"aup_setup --user alice" in response.content and b"examples/random_search.py" in response.content


def test_it_lists_only_the_users_experiments_newest_first(client, alice):
    bob = make_user("bob")
    make_configured_experiment(alice, name="older")
    newer = make_configured_experiment(alice, name="newer")
    make_configured_experiment(bob, name="bobs secret")
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "bobs secret" not in html
    assert html.index(">newer<") < html.index(">older<")
    assert f'href="/experiments/{newer.pk}/"' in html
    assert 'id="owner"' not in html  # a researcher has no owner filter


def test_it_lists_running_experiments_first_then_the_newest(client, alice):
    # The live demo, or a search in progress since yesterday, is the first row.
    long_running = make_configured_experiment(alice, name="long running", status="RUNNING")
    Experiment.objects.filter(pk=long_running.pk).update(start_time=long_running.start_time - timedelta(days=1))
    make_configured_experiment(alice, name="older ended", status="FINISHED")
    make_configured_experiment(alice, name="live demo", status="RUNNING")
    make_configured_experiment(alice, name="newest ended", status="STOPPED")
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert html.index(">live demo<") < html.index(">long running<") < html.index(">newest ended<") < html.index(">older ended<")
    # The Started column still sorts by time alone.
    html = client.get("/", {"sort": "-start"}).content.decode()
    assert html.index(">newest ended<") < html.index(">live demo<") < html.index(">older ended<") < html.index(">long running<")


def test_it_shows_progress_and_the_best_score_in_the_target_direction(client, alice):
    maximize = make_configured_experiment(alice, name="maximize", n_samples=10)
    make_jobs(maximize, 3)  # scores 1/3, 2/3, 1
    minimize = make_configured_experiment(alice, name="minimize", target="min")
    make_jobs(minimize, 4)  # best is 0.25
    make_jobs(minimize, 1, status="RUNNING", score=None)
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'max="10" value="3"' in html and "3/10" in html
    assert 'max="5" value="4"' in html and "4/5" in html
    assert ">1 <span" in html and ">0.25 <span" in html


def test_it_searches_filters_and_sorts_from_the_url(client, alice):
    staff = make_user("root", is_staff=True)
    bob = make_user("bob")
    a = make_configured_experiment(alice, name="mnist lr sweep", status="FINISHED")
    make_jobs(a, 2, score=5.0)
    b = make_configured_experiment(bob, name="cifar sweep", status="RUNNING")
    make_jobs(b, 4)
    make_configured_experiment(bob, name="mnist depth", status="RUNNING")
    client.force_login(staff)

    html = client.get("/", {"q": "MNIST"}).content.decode()
    assert "mnist lr sweep" in html and "mnist depth" in html and "cifar sweep" not in html
    html = client.get("/", {"status": "RUNNING", "owner": bob.pk}).content.decode()
    assert "cifar sweep" in html and "mnist depth" in html and "mnist lr sweep" not in html
    html = client.get("/", {"sort": "-best"}).content.decode()
    assert html.index("mnist lr sweep") < html.index("cifar sweep") < html.index("mnist depth")
    html = client.get("/", {"sort": "name"}).content.decode()
    assert html.index("cifar sweep") < html.index("mnist depth") < html.index("mnist lr sweep")
    # Sort links keep the filters.
    html = client.get("/", {"q": "sweep", "sort": "name"}).content.decode()
    assert 'href="?q=sweep&amp;sort=-name"' in html


def test_it_ignores_unknown_filter_values(client, alice):
    make_configured_experiment(alice, name="kept")
    client.force_login(alice)
    response = client.get("/", {"status": "BOGUS", "sort": "nope", "page": "x", "owner": "y"})
    assert response.status_code == 200 and b"kept" in response.content


def test_it_pages_experiments(client, alice):
    for index in range(27):
        make_configured_experiment(alice, name=f"exp {index:02d}")
    client.force_login(alice)
    assert b"Page 1 of 2" in client.get("/").content
    assert b"exp 00" in client.get("/", {"page": 2}).content


@pytest.mark.parametrize("count", [2, 20])
def test_it_takes_the_same_queries_for_2_or_20_experiments(client, django_assert_num_queries, count):
    staff = make_user("root", is_staff=True)
    for index in range(count):
        experiment = make_configured_experiment(make_user(f"user{index % 3}"), name=f"exp {index}")
        make_jobs(experiment, 3)
    client.force_login(staff)
    # Queries: session, user, owners for the filter, count, the page with its
    # progress and best-score subqueries, the signs of life of its running ones, the
    # tags of its experiments (notes and tags).
    with django_assert_num_queries(7):
        response = client.get("/")
    assert response.status_code == 200
    assert Experiment.objects.count() == count
