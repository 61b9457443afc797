"""The contract, bad input for every method: ids of the wrong type, unknown or out of range,
text a database cannot hold, names longer than the dashboard stores."""

import copy
import json

import pytest

from tests.contract.support import EID, IRID, JID, RID, UNKNOWN, Ref, db_state, refused
from tests.factories import make_experiment, make_intermediate_results, make_job
from tracking.interface import MAX_LABELS, MAX_NESTING, ConnectorError, InvalidInputError
from tracking.models import Experiment, Job, MultipleResult, ResultLabel

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


# -- text a database or a page cannot carry, configs nested too deep, too many labels
# (issue 12, defects 2, 3, 4 and 8): InvalidInputError, nothing written, on every database,
# from both implementations (RestConnector refuses before it sends: the checks are the
# interface's).

BAD_TEXTS = {"surrogate": "bad \udfff text", "nul": "bad \x00 text"}

# Every place a text enters, as a call of the world's ids with `text` in it.
TEXT_CALLS = {
    "username": lambda c, w, text: c.start_experiment(text, {"name": "x"}),
    "username-of-get_all_experiment": lambda c, w, text: c.get_all_experiment(text),
    "name": lambda c, w, text: c.start_experiment("alice", text, "{}"),
    "name-in-exp_config": lambda c, w, text: c.start_experiment("alice", {"name": text}),
    "exp_config-value": lambda c, w, text: c.create_experiment("alice", {"name": "x", "note": [text]}),
    "exp_config-key": lambda c, w, text: c.create_experiment("alice", {"name": "x", text: 1}),
    "exp_config_blob": lambda c, w, text: c.start_experiment("alice", "x", json_text({"note": text})),
    "config-label": lambda c, w, text: c.start_experiment(
        "alice", {"name": "x", "resource_args": {"multi_res_labels": ["acc", text]}}
    ),
    "job_config": lambda c, w, text: c.start_job(w.eid, w.rid, {"note": text}),
    "job_config-of-job_started": lambda c, w, text: c.job_started(w.eid, w.rid, {text: 1}),
    "msg": lambda c, w, text: c.log_error_message(w.eid, text),
    "score-of-end_job": lambda c, w, text: c.end_job(w.jid, text, "FINISHED"),
    "score-of-job_finished": lambda c, w, text: c.job_finished(w.rid, w.jid, text, "FINISHED"),
    "score-of-save_intermediate_result": lambda c, w, text: c.save_intermediate_result(w.jid, text),
    "score-of-save_multiple_results": lambda c, w, text: c.save_multiple_results(w.jid, None, w.eid, None, [text]),
    "label": lambda c, w, text: c.save_multiple_results(w.jid, None, w.eid, ["acc", text], [1.0, 2.0]),
    "rtype": lambda c, w, text: c.get_available_resource(None, text),
}


def json_text(value):
    # As json.dumps writes them: a lone surrogate as the escape \udfff, a NUL as \u0000.
    return json.dumps(value)


@pytest.mark.parametrize("kind", BAD_TEXTS)
@pytest.mark.parametrize("where", TEXT_CALLS)
def test_it_refuses_text_that_cannot_be_stored_or_shown_as_bad_input(connector, world, alice, where, kind):
    # SQLite would store a lone surrogate and then fail every page that shows it (UTF-8
    # has no form for it); PostgreSQL refuses it and NUL as a database error. Both are the
    # caller's to fix: InvalidInputError, before anything is written.
    error = refused(InvalidInputError, lambda: TEXT_CALLS[where](connector, world, BAD_TEXTS[kind]))
    assert ("NUL" if kind == "nul" else "surrogate") in str(error)


def nested(depth, leaf="leaf"):
    value = leaf
    for _ in range(depth):
        value = {"x": value}
    return value


DEEP = 10_000  # far past the interpreter's recursion limit

DEEP_CALLS = {
    "exp_config": lambda c, w: c.start_experiment("alice", {"name": "deep", "x": nested(DEEP)}),
    "exp_config_blob": lambda c, w: c.start_experiment("alice", "deep", "[" * DEEP + "]" * DEEP),
    "job_config": lambda c, w: c.start_job(w.eid, w.rid, nested(DEEP)),
    "job_config-of-job_started": lambda c, w: c.job_started(w.eid, w.rid, nested(DEEP)),
}


@pytest.mark.parametrize("where", DEEP_CALLS)
def test_it_refuses_a_config_nested_thousands_deep_as_bad_input(connector, world, alice, where):
    refused(InvalidInputError, lambda: DEEP_CALLS[where](connector, world), str(MAX_NESTING))


def test_it_stores_a_config_nested_to_the_limit(connector, world, alice):
    config = nested(MAX_NESTING)  # exactly the limit: the config itself is its first level
    eid = connector.start_experiment("alice", "deep enough", json_text(config))
    assert Experiment.objects.get(pk=eid).config == config
    jid = connector.start_job(world.eid, world.rid, config)
    assert Job.objects.get(pk=jid).config == config


@pytest.mark.parametrize("blob", [b"\xff\xfe{}", b'{"a": "\xe9"}'], ids=["bom", "latin-1"])
def test_it_refuses_a_config_blob_of_bytes_that_are_not_utf8_as_bad_input(connector, alice, blob):
    refused(InvalidInputError, lambda: connector.start_experiment("alice", "bytes", blob), "UTF-8")


def test_it_reads_a_config_blob_of_utf8_bytes(connector, alice):
    eid = connector.start_experiment("alice", "bytes", '{"note": "naïve"}'.encode())
    assert Experiment.objects.get(pk=eid).config == {"note": "naïve"}


def too_many(what):
    return [f"{what}{order}" for order in range(1, MAX_LABELS + 2)]


LABEL_COUNT_CALLS = {
    "labels": lambda c, w, n: c.save_multiple_results(w.jid, None, w.eid, too_many("l")[:n], [0.5] * n),
    "scores": lambda c, w, n: c.save_multiple_results(w.jid, w.irid, w.eid, None, [0.5] * n),
    "exp_config": lambda c, w, n: c.start_experiment(
        "alice", {"name": "many", "resource_args": {"multi_res_labels": too_many("l")[:n]}}
    ),
    "exp_config_blob": lambda c, w, n: c.start_experiment(
        "alice", "many", json_text({"resource_args": {"multi_res_labels": too_many("l")[:n]}})
    ),
}


@pytest.mark.parametrize("count", [MAX_LABELS + 1, 501, 40_000], ids=["limit+1", "sqlite-compound", "pg-params"])
@pytest.mark.parametrize("where", LABEL_COUNT_CALLS)
def test_it_refuses_more_labels_than_the_limit_as_bad_input(connector, world, alice, where, count):
    # 501 values went past SQLite's compound SELECT limit, 40,000 past PostgreSQL's
    # 65,535 parameters: each was a BackendError (a 503 that RestConnector retried).
    refused(InvalidInputError, lambda: LABEL_COUNT_CALLS[where](connector, world, count), str(MAX_LABELS))


@pytest.mark.parametrize("where", LABEL_COUNT_CALLS)
def test_it_stores_as_many_labels_as_the_limit(connector, world, alice, where):
    before = MultipleResult.objects.count() + Experiment.objects.count()
    LABEL_COUNT_CALLS[where](connector, world, MAX_LABELS)
    written = MultipleResult.objects.count() + Experiment.objects.count() - before
    assert written == (MAX_LABELS if where in ("labels", "scores") else 1)
    if where.startswith("exp_config"):
        assert ResultLabel.objects.exclude(experiment_id=world.eid).count() == MAX_LABELS


@pytest.mark.parametrize("num_labels", [MAX_LABELS + 1, 2**31, 2**63, 10**30], ids=str)
def test_it_refuses_num_labels_beyond_the_limit_as_bad_input(connector, world, num_labels):
    refused(
        InvalidInputError,
        lambda: connector.set_last_multiple_results(world.eid, world.jid, num_labels),
        str(MAX_LABELS),
    )


def test_it_marks_as_many_final_values_as_the_limit(connector, world):
    connector.save_multiple_results(world.jid, None, world.eid, None, [0.5] * MAX_LABELS)
    connector.set_last_multiple_results(world.eid, world.jid, MAX_LABELS)
    assert MultipleResult.objects.filter(job_id=world.jid, is_last=True).count() == MAX_LABELS
