"""Rules that the connector, the importer, recovery, the dashboard and the admin share,
each written once in tracking.models: the unique experiment name, the first error, the
best job, freeing a resource and the correlated count."""

import pytest

from tests.factories import make_experiment, make_job, make_resource
from tracking.models import Experiment, Job, Resource, count_of, unique_name
from tracking.scores import encode_score


def scored_job(experiment, score):
    number, text = encode_score(score)
    return make_job(experiment, status="FINISHED", score=number, score_text=text)


def test_unique_name_keeps_a_free_name_and_none():
    assert unique_name("toy", {"other", "toy (1)"}) == "toy"
    assert unique_name(None, {"toy"}) is None


def test_unique_name_numbers_one_past_the_highest_number_in_use():
    assert unique_name("toy", {"toy"}) == "toy (1)"
    assert unique_name("toy", {"toy", "toy (1)", "toy (7)", "toy (x)", "toy (2) (9)", "toys (12)"}) == "toy (8)"
    # Only "name (n)" itself counts: the name is matched as text, not as a pattern.
    assert unique_name("a.b (1)", {"a.b (1)", "axb (1) (5)"}) == "a.b (1) (1)"


@pytest.mark.django_db
def test_name_for_asks_the_database_as_unique_name_says(user, django_assert_num_queries):
    for name in ("toy", "toy (3)", "Toy (9)", "toys (4)"):
        make_experiment(user, name=name)
    with django_assert_num_queries(1):
        assert Experiment.objects.name_for("new") == "new"
    with django_assert_num_queries(2):
        assert Experiment.objects.name_for("toy") == "toy (4)"
    assert Experiment.objects.name_for(None) is None


@pytest.mark.django_db
def test_best_first_orders_finite_scores_in_the_target_direction(user):
    experiment = make_experiment(user)
    low, high, nan, text, tie = (scored_job(experiment, score) for score in (0.1, 0.9, float("nan"), "x", 0.9))
    assert list(experiment.jobs.best_first().values_list("pk", flat=True)) == [high.pk, tie.pk, low.pk]
    assert list(experiment.jobs.best_first(False).values_list("pk", flat=True)) == [low.pk, high.pk, tie.pk]
    assert experiment.jobs.best() == high and experiment.jobs.best(maximize=False) == low


@pytest.mark.django_db
def test_mark_free_frees_whatever_the_status_and_free_only_the_busy():
    busy = make_resource("cpu")
    Resource.objects.filter(pk=busy.pk).update(status="busy", holder="h", taken_at="2026-01-01T00:00:00Z")
    idle = make_resource("cpu")
    assert Resource.objects.filter(pk__in=[busy.pk, idle.pk]).free() == 1
    assert Resource.objects.filter(pk__in=[busy.pk, idle.pk]).mark_free() == 2
    assert set(Resource.objects.values_list("status", "holder", "taken_at")) == {("free", None, None)}


@pytest.mark.django_db
def test_count_of_counts_per_outer_row_with_zero_for_none(user, django_assert_num_queries):
    busy, empty = make_experiment(user, name="busy"), make_experiment(user, name="empty")
    make_job(busy, status="FINISHED")
    make_job(busy, status="RUNNING")
    experiments = Experiment.objects.annotate(
        total=count_of(Job, "experiment"), done=count_of(Job.objects.exclude(status="RUNNING"), "experiment")
    )
    with django_assert_num_queries(1):
        counts = {name: (total, done) for name, total, done in experiments.values_list("name", "total", "done")}
    assert counts == {"busy": (2, 1), "empty": (0, 0)}


@pytest.mark.django_db
def test_log_error_keeps_the_first_error(user):
    experiment = make_experiment(user)
    assert Experiment.objects.filter(pk=experiment.pk).log_error("out of memory") == 1
    assert Experiment.objects.filter(pk=experiment.pk).log_error("reset by aup_reset") == 0
    experiment.refresh_from_db()
    assert experiment.error_msg == "out of memory"
