"""tracking/importance.py: PED-ANOVA on constructed searches whose answer is known."""

import math
import random

import numpy as np
import pytest

from tests.factories import importance_bump
from tracking import importance
from tracking.importance import Axis, axes_for, top_mask


def search(count=200, seed=3, value=None):
    """[(config, value)]: `value(config)` decides; lr in [1e-4, 1e-1] (log), width and
    optimizer drawn at random."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        config = {
            "lr": 10 ** rng.uniform(-4, -1),
            "width": rng.uniform(0.0, 1.0),
            "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
        }
        rows.append((config, value(config)))
    return rows


def ranking(result):
    return [row["parameter"] for row in result["importances"]]


def test_it_ranks_first_the_parameter_that_decides_a_maximised_score():
    # High is good, and only a learning rate near 1e-2 gives it.
    rows = search(value=lambda c: -abs(math.log10(c["lr"]) + 2))
    result = importance.importance(rows, None, maximize=True)
    assert result["enough"] and ranking(result)[0] == "lr"
    shares = {row["parameter"]: row["share"] for row in result["importances"]}
    assert shares["lr"] > 0.8 and shares["width"] < 0.1 and shares["optimizer"] < 0.1


def test_it_ranks_first_the_parameter_that_decides_a_minimised_result():
    # Low is good (a loss), and only width near 0.3 gives it.
    rows = search(value=lambda c: abs(c["width"] - 0.3))
    result = importance.importance(rows, None, maximize=False)
    assert ranking(result)[0] == "width"
    assert result["importances"][0]["share"] > 0.8


def test_it_ranks_a_categorical_parameter_that_decides():
    rows = search(value=lambda c: 1.0 if c["optimizer"] == "sgd" else 0.0)
    result = importance.importance(rows, None, maximize=True)
    assert ranking(result)[0] == "optimizer"


def test_it_takes_the_high_jobs_as_the_top_ones_of_a_maximised_objective():
    values = np.arange(100, dtype=float)
    assert np.flatnonzero(top_mask(values, maximize=True)).tolist() == list(range(90, 100))
    assert np.flatnonzero(top_mask(values, maximize=False)).tolist() == list(range(10))


def test_it_ranks_another_parameter_when_the_direction_flips():
    # High values come from width near 0.9, low ones from a learning rate near 1e-1:
    # which parameter matters depends on which end of the objective is the good one.
    def value(config):
        return importance_bump(config["width"]) - importance_bump(math.log10(config["lr"]), at=-1.0, width=0.3)

    rows = search(count=300, value=value)
    assert ranking(importance.importance(rows, None, maximize=True))[0] == "width"
    assert ranking(importance.importance(rows, None, maximize=False))[0] == "lr"


def test_it_keeps_the_raw_divergences_and_shares_that_sum_to_one():
    rows = search(value=lambda c: -abs(c["width"] - 0.5))
    result = importance.importance(rows, None, maximize=True)
    assert math.isclose(sum(row["share"] for row in result["importances"]), 1.0)
    total = sum(row["importance"] for row in result["importances"])
    for row in result["importances"]:
        assert row["importance"] >= 0 and math.isclose(row["share"], row["importance"] / total)
    assert result["method"] == "PED-ANOVA" and "top 10%" in result["description"]
    assert result["jobs_used"] == 200 and result["top_jobs"] == 20


def test_it_says_when_there_are_not_enough_jobs():
    rows = search(count=importance.MIN_JOBS - 1, value=lambda c: c["width"])
    result = importance.importance(rows, None, maximize=True)
    assert result["enough"] is False and result["importances"] == []
    assert f"at least {importance.MIN_JOBS} finished jobs" in result["message"]
    assert f"has {importance.MIN_JOBS - 1}" in result["message"]
    assert importance.importance(search(count=importance.MIN_JOBS, value=lambda c: c["width"]), None, True)["enough"]


def test_it_leaves_out_values_that_are_not_finite_numbers():
    rows = search(count=importance.MIN_JOBS, value=lambda c: c["width"])
    rows[:3] = [(config, value) for (config, _), value in zip(rows[:3], (float("nan"), None, "text"))]
    result = importance.importance(rows, None, maximize=True)
    assert result["enough"] is False and f"has {importance.MIN_JOBS - 3}" in result["message"]


def test_it_says_when_every_job_ties():
    rows = search(count=40, value=lambda c: 1.0)
    result = importance.importance(rows, None, maximize=True)
    assert result["enough"] is False and "tie" in result["message"]


def test_it_gives_no_importance_to_a_parameter_with_one_value():
    rows = [({**config, "fixed": 3}, value) for config, value in search(value=lambda c: c["width"])]
    result = importance.importance(rows, None, maximize=True)
    assert {row["parameter"]: row["importance"] for row in result["importances"]}["fixed"] == 0.0


def test_it_ranks_log_scaled_parameters_in_log_space():
    configs = [{"lr": 10 ** -(index % 5), "batch": 32 + index % 4, "drop": index / 10} for index in range(10)]
    declared = [{"name": "batch", "type": "int", "log": True}, {"name": "lr"}, {"name": "drop"}]
    axes = {axis.name: axis for axis in axes_for(declared, configs)}
    assert axes["lr"] == Axis("lr", "number", True)  # spans 4 decades
    assert axes["batch"] == Axis("batch", "number", True)  # declared
    assert axes["drop"] == Axis("drop", "number", False)  # 0 is not positive


@pytest.mark.parametrize("count", [1_000, 10_000])
def test_it_answers_for_large_searches(count):
    rows = search(count=count, value=lambda c: -abs(c["width"] - 0.3))
    result = importance.importance(rows, None, maximize=True)
    assert result["jobs_used"] == count and ranking(result)[0] == "width"
    assert result["top_jobs"] == count // 10
