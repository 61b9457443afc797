"""The contract, results: intermediate results, multiple results and their labels."""

import pytest

from tests.contract.support import EID, JID, UNKNOWN, Ref, labels_of, refused
from tests.factories import make_experiment, make_intermediate_results, make_job, make_multiple_results
from tracking.interface import ConnectorError, InvalidInputError
from tracking.models import Experiment, IntermediateResult, Job, MultipleResult


def test_it_numbers_intermediate_results_per_job(connector, user, cpu):
    experiment = make_experiment(user, name="steps")
    first, second = make_job(experiment, cpu), make_job(experiment, cpu)

    irids = [
        connector.save_intermediate_result(first.pk, 0.1),
        connector.save_intermediate_result(second.pk, 0.2),
        connector.save_intermediate_result(first.pk, 0.3),
        connector.save_intermediate_result(first.pk, 0.4),
    ]

    assert all(type(irid) is int for irid in irids)
    steps = list(IntermediateResult.objects.filter(job=first).order_by("number"))
    assert [(step.number, step.pk, step.score_value) for step in steps] == [
        (0, irids[0], 0.1), (1, irids[2], 0.3), (2, irids[3], 0.4)
    ]
    [step] = IntermediateResult.objects.filter(job=second)
    assert (step.number, step.pk, step.score_value) == (0, irids[1], 0.2)
    assert all(step.receive_time is not None for step in steps)


def test_it_gives_a_jobs_intermediate_results_in_order(connector, user, cpu):
    experiment = make_experiment(user, name="curve")
    job, silent = make_job(experiment, cpu), make_job(experiment, cpu)
    make_intermediate_results(job, [0.1, 0.5, 0.3])

    assert connector.get_intermediate_results_job(job.pk) == [0.1, 0.5, 0.3]
    assert connector.get_intermediate_results_job(silent.pk) == []
    assert connector.get_intermediate_results_job(UNKNOWN) == []


def test_it_gives_the_intermediate_results_of_several_jobs(connector, user, cpu):
    experiment = make_experiment(user, name="curves")
    first, silent, third = (make_job(experiment, cpu) for _ in range(3))
    make_intermediate_results(first, [0.1, 0.2])
    make_intermediate_results(third, [0.9])

    # Jobs without results, and unknown jobs, are absent, not empty.
    assert connector.get_intermediate_results_jobs([first.pk, UNKNOWN, silent.pk, third.pk]) == {
        first.pk: [0.1, 0.2],
        third.pk: [0.9],
    }
    assert connector.get_intermediate_results_jobs([third.pk]) == {third.pk: [0.9]}
    assert connector.get_intermediate_results_jobs([]) == {}


def test_it_gives_the_intermediate_results_of_an_experiments_jobs_in_a_status(connector, user, cpu):
    experiment = make_experiment(user, name="by status")
    finished = make_job(experiment, cpu, status="FINISHED")
    failed = make_job(experiment, cpu, status="FAILED")
    make_job(experiment, cpu, status="FINISHED")  # no results: absent
    also_finished = make_job(experiment, cpu, status="FINISHED")
    make_intermediate_results(finished, [0.1, 0.2])
    make_intermediate_results(failed, [0.3])
    make_intermediate_results(also_finished, [0.4])
    make_intermediate_results(make_job(make_experiment(user, name="other"), cpu, status="FINISHED"), [0.5])

    assert connector.get_intermediate_results_experiment(experiment.pk, "FINISHED") == {
        finished.pk: [0.1, 0.2],
        also_finished.pk: [0.4],
    }
    assert connector.get_intermediate_results_experiment(experiment.pk, "FAILED") == {failed.pk: [0.3]}
    assert connector.get_intermediate_results_experiment(experiment.pk, "RUNNING") == {}
    assert connector.get_intermediate_results_experiment(UNKNOWN, "FINISHED") == {}


def test_it_saves_one_labeled_row_per_value(connector, world):
    connector.save_multiple_results(world.jid, world.irid, world.eid, ["accuracy", "loss"], [0.9, 0.1])

    rows = MultipleResult.objects.filter(job_id=world.jid).order_by("label_order")
    assert [(r.label_order, r.experiment_id, r.intermediate_result_id, r.value_decoded, r.is_last) for r in rows] == [
        (1, world.eid, world.irid, 0.9, False),
        (2, world.eid, world.irid, 0.1, False),
    ]
    assert all(row.receive_time is not None for row in rows)
    # Stored so the dashboard shows "accuracy", not "label 1".
    assert labels_of(world.eid) == [(1, "accuracy"), (2, "loss")]


def test_it_saves_multiple_results_without_an_intermediate_result(connector, world):
    connector.save_multiple_results(world.jid, None, world.eid, ["accuracy"], [0.9])

    [row] = MultipleResult.objects.filter(job_id=world.jid)
    assert (row.label_order, row.intermediate_result_id, row.value_decoded) == (1, None, 0.9)


@pytest.mark.parametrize("labels", [None, []], ids=["none", "empty"])
def test_it_names_values_from_the_config_without_labels(connector, user, cpu, labels):
    # Created through the connector, as an executor does: the config carries the names.
    eid = connector.start_experiment("alice", {"name": "cfg", "resource_args": {"multi_res_labels": ["acc", "loss"]}})
    job = make_job(Experiment.objects.get(pk=eid), cpu)

    connector.save_multiple_results(job.pk, None, eid, labels, [0.9, 0.1])

    rows = MultipleResult.objects.filter(job=job).order_by("label_order")
    assert [(row.label_order, row.value_decoded) for row in rows] == [(1, 0.9), (2, 0.1)]
    assert labels_of(eid) == [(1, "acc"), (2, "loss")]


def test_it_names_values_from_the_labels_given(connector, user, cpu):
    eid = connector.start_experiment("alice", {"name": "cfg", "resource_args": {"multi_res_labels": ["a", "b"]}})
    job = make_job(Experiment.objects.get(pk=eid), cpu)

    connector.save_multiple_results(job.pk, None, eid, ["accuracy", "loss"], [0.9, 0.1])

    assert labels_of(eid) == [(1, "accuracy"), (2, "loss")]


@pytest.mark.parametrize("labels, scores", [(["acc"], [0.9, 0.1]), (["acc", "loss"], [0.9])])
def test_it_refuses_labels_that_do_not_match_the_values(connector, world, labels, scores):
    refused(InvalidInputError, lambda: connector.save_multiple_results(world.jid, None, world.eid, labels, scores))


def test_it_refuses_multiple_results_of_a_job_of_another_experiment(connector, world, user):
    other = make_experiment(user, name="other")

    refused(
        ConnectorError,
        lambda: connector.save_multiple_results(world.jid, None, other.pk, ["acc"], [0.9]),
        world.jid,
        other.pk,
    )


@pytest.mark.parametrize("jid, eid", [(UNKNOWN, EID), (JID, UNKNOWN)], ids=["unknown-job", "unknown-experiment"])
def test_it_refuses_unknown_ids_even_without_values(connector, world, jid, eid):
    # An empty list writes nothing, but unknown ids are still the caller's bug to hear of.
    jid, eid = (getattr(world, value) if isinstance(value, Ref) else value for value in (jid, eid))
    refused(ConnectorError, lambda: connector.save_multiple_results(jid, None, eid, [], []), UNKNOWN)


def test_it_marks_the_last_values_of_a_job_as_final(connector, world, cpu):
    job = Job.objects.get(pk=world.jid)
    first = make_multiple_results(job, [0.5, 0.6], intermediate_result=IntermediateResult.objects.get(pk=world.irid))
    last = make_multiple_results(job, [0.7, 0.8])
    # Another job's final values are its own business.
    neighbour = make_job(Experiment.objects.get(pk=world.eid), cpu)
    neighbours = make_multiple_results(neighbour, [0.3, 0.4], is_last=True)

    connector.set_last_multiple_results(world.eid, world.jid, 2)

    marked = set(MultipleResult.objects.filter(is_last=True).values_list("pk", flat=True))
    assert marked == {row.pk for row in last + neighbours}
    assert not marked & {row.pk for row in first}


def test_it_keeps_one_final_set_for_a_retried_job(connector, world, cpu):
    job = Job.objects.get(pk=world.jid)
    first_run = make_multiple_results(job, [0.5, 0.6], is_last=True)
    second_run = make_multiple_results(job, [0.7, 0.8])
    neighbour = make_job(Experiment.objects.get(pk=world.eid), cpu)
    neighbours = make_multiple_results(neighbour, [0.3, 0.4], is_last=True)

    connector.set_last_multiple_results(world.eid, world.jid, 2)

    marked = set(MultipleResult.objects.filter(is_last=True).values_list("pk", flat=True))
    assert marked == {row.pk for row in second_run + neighbours}
    assert not marked & {row.pk for row in first_run}


def test_it_refuses_to_mark_values_of_a_job_of_another_experiment(connector, world, user):
    make_multiple_results(Job.objects.get(pk=world.jid), [0.5])
    other = make_experiment(user, name="other")

    refused(ConnectorError, lambda: connector.set_last_multiple_results(other.pk, world.jid, 1), world.jid, other.pk)


@pytest.mark.parametrize("num_labels", [-1, "2", 1.5, None, True], ids=["negative", "str", "float", "none", "bool"])
def test_it_refuses_a_bad_number_of_labels(connector, world, num_labels):
    make_multiple_results(Job.objects.get(pk=world.jid), [0.5, 0.6])

    refused(InvalidInputError, lambda: connector.set_last_multiple_results(world.eid, world.jid, num_labels))
