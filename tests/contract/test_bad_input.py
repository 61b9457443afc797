"""The contract, bad input for every method: ids of the wrong type, unknown or out of range,
text a database cannot hold, names longer than the dashboard stores."""

import copy

import pytest

from tests.contract.support import EID, IRID, JID, RID, UNKNOWN, Ref, db_state, refused
from tests.factories import make_experiment, make_intermediate_results, make_job
from tracking.interface import ConnectorError, InvalidInputError
from tracking.models import Experiment, Job, ResultLabel

# Just beyond a 64-bit id column at either end: SQLite's driver refuses to bind them
# (OverflowError) and PostgreSQL's bigint cannot hold them, so they reach the error path
# of every lookup that does not check its ids first.
OUT_OF_RANGE = (2**63, -(2**63) - 1)

# Every write method with valid arguments, ids as Refs into `world`.
WRITES = {
    "start_experiment_by_eid": (EID,),
    "end_experiment": (EID, "FINISHED"),
    "change_experiment_status": (EID, "STOPPED"),
    "delete_experiment": (EID,),
    "log_error_message": (EID, "boom"),
    "start_job": (EID, RID, {"lr": 0.1}),
    "start_job_attempt": (RID, JID),
    "end_job_attempt": (JID,),
    "end_job": (JID, 0.5, "FINISHED"),
    "update_job_status": (JID, "FINISHED"),
    "job_started": (EID, RID, {"lr": 0.1}),
    "job_finished": (RID, JID, 0.5, "FINISHED"),
    "job_failed": (RID, JID),
    "job_retry": (RID, JID),
    "take_available_resource": (RID,),
    "free_used_resource": (RID,),
    "save_intermediate_result": (JID, 0.5),
    "save_multiple_results": (JID, IRID, EID, ["acc"], [0.5]),
    "set_last_multiple_results": (EID, JID, 1),
}
# (method, position, id kind) for every id argument of a write.
WRITE_IDS = [
    pytest.param(method, position, str(arg), id=f"{method}-{arg}")
    for method, args in WRITES.items()
    for position, arg in enumerate(args)
    if isinstance(arg, Ref)
]


def write_call(connector, world, method, replace=None):
    """A call of `method` with the world's ids, the argument at replace[0] replaced by replace[1]."""
    args = [getattr(world, arg) if isinstance(arg, Ref) else copy.deepcopy(arg) for arg in WRITES[method]]
    if replace is not None:
        args[replace[0]] = replace[1]
    return lambda: getattr(connector, method)(*args)


BAD_ID_TYPES = {"str": str, "float": float, "bool": lambda value: True, "none": lambda value: None}


@pytest.mark.parametrize(
    "method, position, kind, bad",
    [
        pytest.param(*param.values, bad, id=f"{param.id}-{bad}")
        for param in WRITE_IDS
        for bad in BAD_ID_TYPES
        # irid may be None: multiple results need not belong to a step.
        if not (param.values[2] == "irid" and bad == "none")
    ],
)
def test_it_refuses_an_id_of_the_wrong_type(connector, world, method, position, kind, bad):
    value = BAD_ID_TYPES[bad](getattr(world, kind))
    # A sloppy implementation would accept "3" or 3.0 as the id of a real row.
    refused(InvalidInputError, write_call(connector, world, method, (position, value)), kind)


@pytest.mark.parametrize(
    "method, position, kind", [param for param in WRITE_IDS if param.values[0] != "delete_experiment"]
)
def test_it_refuses_a_write_naming_an_unknown_id(connector, world, method, position, kind):
    refused(ConnectorError, write_call(connector, world, method, (position, UNKNOWN)), UNKNOWN)


@pytest.mark.parametrize("method, position, kind", WRITE_IDS)
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1"])
def test_it_answers_a_write_naming_an_out_of_range_id_with_its_own_error(
    connector, world, method, position, kind, value
):
    call = write_call(connector, world, method, (position, value))
    if method == "delete_experiment":
        # A read-like answer: no such experiment.
        before = db_state()
        try:
            assert call() is False
        except ConnectorError:
            pass
        assert db_state() == before
        return
    refused(ConnectorError, call)


# Reads of an unknown id, with Auptimizer's answer: a value, or the exception it raises.
READS = [
    pytest.param(lambda c, w, x: c.get_running_job(x), [], id="get_running_job"),
    pytest.param(lambda c, w, x: c.get_all_history(x), [], id="get_all_history"),
    pytest.param(lambda c, w, x: c.get_best_result_config(x), None, id="get_best_result_config"),
    pytest.param(lambda c, w, x: c.get_best_result_config(x, maximize=False), None, id="get_best_result_config-min"),
    pytest.param(lambda c, w, x: c.get_intermediate_results_job(x), [], id="get_intermediate_results_job"),
    pytest.param(lambda c, w, x: c.get_intermediate_results_jobs([x]), {}, id="get_intermediate_results_jobs"),
    pytest.param(
        lambda c, w, x: c.get_intermediate_results_jobs([w.jid, x]),
        {"world": [0.1]},
        id="get_intermediate_results_jobs-mixed",
    ),
    pytest.param(
        lambda c, w, x: c.get_intermediate_results_experiment(x, "RUNNING"),
        {},
        id="get_intermediate_results_experiment",
    ),
    pytest.param(lambda c, w, x: c.delete_experiment(x), False, id="delete_experiment"),
    pytest.param(lambda c, w, x: c.get_available_resource(None, "cpu", [x]), ["world"], id="get_available_resource"),
    pytest.param(lambda c, w, x: c.get_experiment_status(x), ValueError, id="get_experiment_status"),
    pytest.param(lambda c, w, x: c.maybe_get_experiment_status(x), ValueError, id="maybe_get_experiment_status"),
    pytest.param(lambda c, w, x: c.get_best_result(x), KeyError, id="get_best_result"),
    pytest.param(lambda c, w, x: c.get_best_result(x, maximize=False), KeyError, id="get_best_result-min"),
]


def expected_answer(expected, world):
    # "world" in a table entry stands for the world's job or resource id.
    if expected == {"world": [0.1]}:
        return {world.jid: [0.1]}
    if expected == ["world"]:
        return [world.rid]
    return expected


@pytest.mark.parametrize("call, expected", READS)
def test_it_answers_a_read_naming_an_unknown_id_as_auptimizer(connector, world, call, expected):
    if isinstance(expected, type):
        refused(expected, lambda: call(connector, world, UNKNOWN), UNKNOWN)
    else:
        assert call(connector, world, UNKNOWN) == expected_answer(expected, world)


@pytest.mark.parametrize("call, expected", READS)
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1"])
def test_it_answers_a_read_naming_an_out_of_range_id_with_its_own_error(connector, world, call, expected, value):
    # Auptimizer's sqlite3 raises OverflowError here; the spec allows only the interface's
    # own exceptions, so: the unknown-id answer, or a ConnectorError (of Auptimizer's type
    # where Auptimizer raises for unknown ids).
    try:
        answer = call(connector, world, value)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        assert isinstance(exc, ConnectorError), f"{type(exc).__name__}: {exc}"
        if isinstance(expected, type):
            assert isinstance(exc, expected)
        return
    assert not isinstance(expected, type), f"answered {answer!r} instead of raising {expected.__name__}"
    assert answer == expected_answer(expected, world)


@pytest.mark.parametrize(
    "call, read_back",
    [
        pytest.param(
            lambda c, w, text: c.log_error_message(w.eid, text),
            lambda w: Experiment.objects.get(pk=w.eid).error_msg,
            id="error-message",
        ),
        pytest.param(
            lambda c, w, text: c.end_job(w.jid, text, "FINISHED"),
            lambda w: Job.objects.get(pk=w.jid).score_value,
            id="score-text",
        ),
        pytest.param(
            lambda c, w, text: c.start_experiment("alice", text, "{}"),
            lambda w: Experiment.objects.exclude(pk=w.eid).get().name,
            id="experiment-name",
        ),
    ],
)
def test_it_stores_or_refuses_text_with_a_nul_character(connector, world, call, read_back):
    # PostgreSQL's text cannot hold NUL: a clear ConnectorError is fine, a driver error is not.
    text = "before\x00after"
    before = db_state()
    try:
        call(connector, world, text)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        assert isinstance(exc, ConnectorError), f"{type(exc).__name__}: {exc}"
        assert db_state() == before
        return
    assert read_back(world) == text


def test_it_answers_reads_of_a_none_id_as_matching_nothing(connector, user, cpu):
    # Auptimizer's early-stopping thread asks for results before its experiment exists
    # (eid None); its SQLiteConnector answers {} ("eid = NULL" matches no row). Raising
    # there would kill the thread and silently turn early stopping off.
    experiment = make_experiment(user)
    make_intermediate_results(make_job(experiment, cpu, status="FINISHED"), [0.5])
    assert connector.get_intermediate_results_experiment(None, "FINISHED") == {}
    assert connector.get_running_job(None) == []
    assert connector.get_all_history(None) == []
    assert connector.get_intermediate_results_job(None) == []
    assert connector.get_best_result_config(None) is None
    with pytest.raises(KeyError):
        connector.get_best_result(None)


def test_it_refuses_label_names_longer_than_the_dashboard_stores(connector, user, cpu):
    # 255 characters, the column's size: SQLite would store more, PostgreSQL refuse it.
    long_name = "x" * 256
    refused(
        InvalidInputError,
        lambda: connector.start_experiment(
            user.username, {"name": "long", "resource_args": {"multi_res_labels": [long_name]}}
        ),
        "255",
    )
    experiment = make_experiment(user)
    job = make_job(experiment, cpu)
    refused(
        InvalidInputError,
        lambda: connector.save_multiple_results(job.pk, None, experiment.pk, [long_name], [1.0]),
        "255",
    )
    connector.save_multiple_results(job.pk, None, experiment.pk, ["y" * 255], [1.0])
    assert ResultLabel.objects.get(experiment=experiment).name == "y" * 255
