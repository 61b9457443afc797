"""tracking.objectives: which way each objective is better, and how one is named."""

import pytest

from tests import factories
from tracking.models import Direction
from tracking.objectives import default_maximizes, find, objectives, parse_key


@pytest.mark.parametrize(
    "name, target_max, expected",
    [
        ("loss", True, False),
        ("val_loss", True, False),
        ("top1-error", True, False),
        ("MSE", True, False),
        ("wall time", True, False),
        ("accuracy", True, True),
        ("accuracy", False, False),
        ("lossless_ratio", True, True),  # a word part, not the word "loss"
        ("f1", True, True),
    ],
)
def test_it_guesses_a_labels_direction_from_its_name_and_the_target(name, target_max, expected):
    assert default_maximizes(name, target_max) is expected


@pytest.mark.django_db
def test_it_lists_the_score_then_each_label_with_stored_directions_winning():
    experiment = factories.make_configured_experiment(factories.make_user(), target="min", resource_args={"multi_res_labels": ["accuracy", "loss", "f1"]})
    experiment.result_labels.filter(name="f1").update(direction=Direction.MAX)
    accuracy, loss, f1 = experiment.result_labels.order_by("label_order")
    found = objectives(experiment, [accuracy, loss, f1])
    assert [(o.key, o.name, o.maximize, o.declared) for o in found] == [
        ("score", "score", False, True),
        ("1", "accuracy", False, False),
        ("2", "loss", False, False),
        ("3", "f1", True, True),
    ]
    assert found[3].as_dict() == {"key": "3", "name": "f1", "label_order": 3, "direction": "max", "declared": True}


@pytest.mark.django_db
def test_it_finds_an_objective_by_key_and_refuses_others():
    experiment = factories.make_configured_experiment(factories.make_user(), resource_args={"multi_res_labels": ["loss"]})
    assert find(experiment, [], "score").maximize is True
    assert find(experiment, [], "1").name == "loss"
    assert find(experiment, [], "2") is None
    for bad in ("", "0", "01", "-1", "1.0", "١", "score ", "9" * 10):
        assert parse_key(bad) is None
        assert find(experiment, [], bad) is None


@pytest.mark.django_db
def test_it_annotates_jobs_with_the_objectives_value():
    experiment = factories.make_configured_experiment(factories.make_user(), resource_args={"multi_res_labels": ["loss"]})
    first = factories.make_job(experiment, score=0.5)
    second = factories.make_job(experiment, score=0.7)
    factories.make_multiple_results(first, [0.75])
    factories.make_multiple_results(first, [0.25], is_last=True)
    values = dict(experiment.jobs.with_objective(1).values_list("pk", "objective_value"))
    assert values == {first.pk: 0.25, second.pk: None}
    scores = dict(experiment.jobs.with_objective().values_list("pk", "objective_value"))
    assert scores == {first.pk: 0.5, second.pk: 0.7}
