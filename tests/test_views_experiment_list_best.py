"""The experiments list's "best first" with maximised and minimised experiments side by
side: each is ranked by its best score in its own direction (ExperimentQuerySet.LIST_SORTS,
best_rank: the score for max, its negation for min)."""

import pytest

from tests.factories import make_configured_experiment, make_jobs, make_user
from tracking.models import Experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(alice):
    """Best scores: high max 0.9, low max 0.5, good min 0.1, bad min 2.0, none."""
    for name, target, score in [
        ("bad min", "min", 2.0),
        ("high max", "max", 0.9),
        ("no score", "max", None),
        ("good min", "min", 0.1),
        ("low max", "max", 0.5),
    ]:
        experiment = make_configured_experiment(alice, name=name, target=target, status="FINISHED")
        make_jobs(experiment, 1, score=score)
        if score is not None:
            # A worse job too, so that the best is a choice in the experiment's direction.
            make_jobs(experiment, 1, score=score + 10 if target == "min" else score - 10)
    return alice


def order_of(html, names):
    return sorted(names, key=lambda name: html.index(f">{name}<"))


NAMES = ["high max", "low max", "good min", "bad min", "no score"]


def test_it_puts_the_best_first_in_each_experiments_own_direction(client, mixed):
    client.force_login(mixed)
    html = client.get("/", {"sort": "-best"}).content.decode()
    assert order_of(html, NAMES) == ["high max", "low max", "good min", "bad min", "no score"]
    assert 'id="best-sort-note">Best first, each experiment in its own direction' in html


def test_it_puts_the_worst_first_the_other_way_and_no_score_still_last(client, mixed):
    client.force_login(mixed)
    html = client.get("/", {"sort": "best"}).content.decode()
    assert order_of(html, NAMES) == ["bad min", "good min", "low max", "high max", "no score"]


def test_it_shows_each_best_score_as_it_is_not_as_its_rank(client, mixed):
    client.force_login(mixed)
    html = client.get("/", {"sort": "-best"}).content.decode()
    assert ">0.1 <span" in html and ">2 <span" in html and "-0.1" not in html


def test_it_ranks_the_same_through_the_queryset_the_api_reads(mixed):
    rows = Experiment.objects.for_list(sort="-best")
    assert [row.name for row in rows] == NAMES
    assert {row.name: row.best_rank for row in rows}["good min"] == -0.1


@pytest.mark.parametrize("count", [2, 20])
def test_it_sorts_by_best_in_the_same_queries_for_2_or_20_experiments(client, django_assert_num_queries, count):
    user = make_user("bob")
    for index in range(count):
        experiment = make_configured_experiment(user, name=f"exp {index}", target="min" if index % 2 else "max")
        make_jobs(experiment, 3)
    client.force_login(user)
    # Queries: session, user, count, the page with its progress, best-score and
    # best-rank subqueries, the signs of life of its running ones, their tags.
    with django_assert_num_queries(6):
        response = client.get("/", {"sort": "-best"})
    assert response.status_code == 200
