"""The contract, scores: every kind an executor reports comes back as it went in, wherever
it is stored (a job's score, intermediate results, multiple results), and the best job is
picked among the finite ones.
"""

import json
import math

import pytest

from tests.contract.support import UNKNOWN, refused
from tests.factories import hold, make_experiment, make_job
from tracking.interface import ConnectorError
from tracking.models import MultipleResult

nan, inf = float("nan"), float("inf")

# (what an executor reports, what comes back): ints and numeric strings become floats,
# everything else comes back as it went in.
SCORES = [
    pytest.param(0.25, 0.25, id="float"),
    pytest.param(-2.5, -2.5, id="negative"),
    pytest.param(3, 3.0, id="int"),
    pytest.param(0, 0.0, id="zero"),
    pytest.param("1.5", 1.5, id="numeric-string"),
    pytest.param(nan, nan, id="nan"),
    pytest.param(inf, inf, id="inf"),
    pytest.param(-inf, -inf, id="-inf"),
    pytest.param("EARLY STOPPED", "EARLY STOPPED", id="text"),
    pytest.param(None, None, id="none"),
]
SCORE_VALUES = [param.values for param in SCORES]


def same_score(got, expected):
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    # The type matters too: an int must come back as a float, a text as a text.
    return type(got) is type(expected) and got == expected


def assert_scores(got, expected):
    assert len(got) == len(expected) and all(map(same_score, got, expected)), f"{got!r} != {expected!r}"


@pytest.mark.parametrize("score, expected", SCORES)
def test_it_round_trips_a_job_score_given_to_end_job(connector, world, score, expected):
    connector.end_job(world.jid, score, "FINISHED")

    [row] = connector.get_all_history(world.eid)
    assert same_score(row[1], expected), f"{row[1]!r} != {expected!r}"


@pytest.mark.parametrize("score, expected", SCORES)
def test_it_round_trips_a_job_score_given_to_job_finished(connector, world, score, expected):
    connector.job_finished(world.rid, world.jid, score, "FINISHED")

    [row] = connector.get_all_history(world.eid)
    assert same_score(row[1], expected), f"{row[1]!r} != {expected!r}"


def test_it_round_trips_every_kind_of_intermediate_score(connector, user, cpu):
    experiment = make_experiment(user, name="curves")
    job = make_job(experiment, cpu, status="FINISHED")
    expected = [value for _, value in SCORE_VALUES]

    for score, _ in SCORE_VALUES:
        connector.save_intermediate_result(job.pk, score)

    assert_scores(connector.get_intermediate_results_job(job.pk), expected)
    curves = connector.get_intermediate_results_jobs([job.pk])
    assert list(curves) == [job.pk]
    assert_scores(curves[job.pk], expected)
    curves = connector.get_intermediate_results_experiment(experiment.pk, "FINISHED")
    assert list(curves) == [job.pk]
    assert_scores(curves[job.pk], expected)


def test_it_round_trips_every_kind_of_multiple_result_value(connector, world):
    scores = [score for score, _ in SCORE_VALUES]

    connector.save_multiple_results(world.jid, None, world.eid, [f"m{n}" for n in range(len(scores))], scores)

    rows = MultipleResult.objects.filter(job_id=world.jid).order_by("label_order")
    assert_scores([row.value_decoded for row in rows], [value for _, value in SCORE_VALUES])


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, w, score: c.end_job(w.jid, score, "FINISHED"), id="end_job"),
        pytest.param(lambda c, w, score: c.job_finished(w.rid, w.jid, score, "FINISHED"), id="job_finished"),
        pytest.param(lambda c, w, score: c.save_intermediate_result(w.jid, score), id="save_intermediate_result"),
        pytest.param(
            lambda c, w, score: c.save_multiple_results(w.jid, None, w.eid, ["acc"], [score]),
            id="save_multiple_results",
        ),
    ],
)
@pytest.mark.parametrize(
    "score",
    [
        pytest.param([0.5], id="list"),
        pytest.param({"acc": 0.5}, id="dict"),
        pytest.param(object(), id="object"),
        # No float holds it: refused, rather than stored as something else.
        pytest.param(10**400, id="int-beyond-float"),
    ],
)
def test_it_refuses_a_score_that_is_not_a_number_or_text(connector, world, call, score):
    hold(world.rid, world.jid)
    refused(ConnectorError, lambda: call(connector, world, score))


@pytest.mark.parametrize("maximize, best_index", [(True, 3), (False, 7)])
def test_it_picks_the_best_finite_score(connector, user, cpu, maximize, best_index):
    experiment = make_experiment(user, name="best")
    # Ties at both ends (7.0 twice, -3.0 twice) go to the lowest jid; NaN, +-inf, text
    # and no score never win.
    scores = [2.0, nan, inf, 7.0, -inf, "EARLY STOPPED", None, -3.0, 7.0, -3.0]
    jids = [make_job(experiment, cpu).pk for _ in scores]
    for jid, score in zip(jids, scores):
        connector.end_job(jid, score, "FINISHED")

    best = connector.get_best_result(experiment.pk, maximize=maximize)

    assert best == [jids[best_index], scores[best_index]]
    assert type(best) is list and type(best[1]) is float


def test_it_maximizes_by_default(connector, user, cpu):
    experiment = make_experiment(user, name="default")
    jids = [make_job(experiment, cpu).pk for _ in range(2)]
    connector.end_job(jids[0], 1.0, "FINISHED")
    connector.end_job(jids[1], 2.0, "FINISHED")

    assert connector.get_best_result(experiment.pk) == [jids[1], 2.0]


def test_it_counts_ints_and_numeric_strings_as_numbers_for_the_best(connector, user, cpu):
    experiment = make_experiment(user, name="numbers")
    jids = [make_job(experiment, cpu).pk for _ in range(3)]
    for jid, score in zip(jids, [2.5, "10.5", 3]):
        connector.end_job(jid, score, "FINISHED")

    assert connector.get_best_result(experiment.pk, maximize=True) == [jids[1], 10.5]
    best = connector.get_best_result(experiment.pk, maximize=False)
    assert best == [jids[0], 2.5]
    connector.end_job(jids[0], 5.0, "FINISHED")
    best = connector.get_best_result(experiment.pk, maximize=False)
    assert best == [jids[2], 3.0] and type(best[1]) is float


@pytest.mark.parametrize("maximize", [True, False])
def test_it_has_no_best_result_without_a_finite_score(connector, user, cpu, maximize):
    experiment = make_experiment(user, name="nothing")
    assert connector.get_best_result(experiment.pk, maximize=maximize) is None

    for score in [nan, inf, -inf, "EARLY STOPPED", None]:
        connector.end_job(make_job(experiment, cpu).pk, score, "FINISHED")

    assert connector.get_best_result(experiment.pk, maximize=maximize) is None


def test_it_refuses_the_best_result_of_an_unknown_experiment(connector, world):
    # KeyError, as Auptimizer raises.
    refused(KeyError, lambda: connector.get_best_result(UNKNOWN), UNKNOWN)


@pytest.mark.parametrize("maximize, best_index", [(True, 1), (False, 3)])
def test_it_gives_the_config_of_the_best_job(connector, user, cpu, maximize, best_index):
    experiment = make_experiment(user, name="best config")
    scores = [0.5, 0.9, inf, 0.1, 0.9, 0.1, nan]
    jids = [make_job(experiment, cpu, config={"index": index}).pk for index in range(len(scores))]
    for jid, score in zip(jids, scores):
        connector.end_job(jid, score, "FINISHED")

    best = connector.get_best_result_config(experiment.pk, maximize=maximize)

    assert type(best) is tuple and len(best) == 1 and type(best[0]) is str
    assert json.loads(best[0]) == {"index": best_index}


def test_it_gives_no_best_config_without_a_finite_score(connector, world):
    connector.end_job(world.jid, nan, "FINISHED")

    assert connector.get_best_result_config(world.eid) is None
    assert connector.get_best_result_config(world.eid, maximize=False) is None
    # A read of an unknown id answers as Auptimizer's: no row, None.
    assert connector.get_best_result_config(UNKNOWN) is None
