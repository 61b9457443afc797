"""The contract, lifetime: close, is_closed, and what a closed connector still answers."""

import pytest

from tests.contract.support import UNKNOWN, refused
from tracking.interface import AbstractConnector, ConnectorClosedError


def test_it_is_open_until_closed(connector):
    assert connector.is_closed() is False
    connector.close()
    assert connector.is_closed() is True


def test_it_takes_a_second_close_calmly(connector):
    connector.close()
    connector.close()
    assert connector.is_closed() is True


def test_it_answers_maybe_get_experiment_status_until_closed(connector, world):
    assert connector.maybe_get_experiment_status(world.eid) == "RUNNING"
    connector.close()
    # Auptimizer's stop-watch thread may poll once more after the executor closed it.
    assert connector.maybe_get_experiment_status(world.eid) is None
    assert connector.maybe_get_experiment_status(UNKNOWN) is None


# Every method but close, is_closed and maybe_get_experiment_status, with valid arguments.
CLOSED_CALLS = [
    ("start_experiment", lambda c, w: c.start_experiment("alice", {"name": "late"})),
    ("start_experiment", lambda c, w: c.start_experiment("alice", "late", "{}")),
    ("create_experiment", lambda c, w: c.create_experiment("alice", {"name": "late"})),
    ("create_experiment", lambda c, w: c.create_experiment("alice", "late", "{}")),
    ("start_experiment_by_eid", lambda c, w: c.start_experiment_by_eid(w.eid)),
    ("end_experiment", lambda c, w: c.end_experiment(w.eid)),
    ("change_experiment_status", lambda c, w: c.change_experiment_status(w.eid, "STOPPED")),
    ("get_experiment_status", lambda c, w: c.get_experiment_status(w.eid)),
    ("delete_experiment", lambda c, w: c.delete_experiment(w.eid)),
    ("log_error_message", lambda c, w: c.log_error_message(w.eid, "boom")),
    ("get_all_experiment", lambda c, w: c.get_all_experiment()),
    ("start_job", lambda c, w: c.start_job(w.eid, w.rid, {})),
    ("start_job_attempt", lambda c, w: c.start_job_attempt(w.rid, w.jid)),
    ("end_job_attempt", lambda c, w: c.end_job_attempt(w.jid)),
    ("end_job", lambda c, w: c.end_job(w.jid, 1.0, "FINISHED")),
    ("update_job_status", lambda c, w: c.update_job_status(w.jid, "FINISHED")),
    ("job_started", lambda c, w: c.job_started(w.eid, w.rid, {})),
    ("job_finished", lambda c, w: c.job_finished(w.rid, w.jid, 1.0, "FINISHED")),
    ("job_failed", lambda c, w: c.job_failed(w.rid, w.jid)),
    ("job_retry", lambda c, w: c.job_retry(w.rid, w.jid)),
    ("get_running_job", lambda c, w: c.get_running_job(w.eid)),
    ("get_all_history", lambda c, w: c.get_all_history(w.eid)),
    ("get_best_result", lambda c, w: c.get_best_result(w.eid)),
    ("get_best_result_config", lambda c, w: c.get_best_result_config(w.eid)),
    ("get_resource_type", lambda c, w: c.get_resource_type()),
    ("get_available_resource", lambda c, w: c.get_available_resource("alice", "cpu")),
    ("take_available_resource", lambda c, w: c.take_available_resource(w.rid)),
    ("free_used_resource", lambda c, w: c.free_used_resource(w.rid)),
    ("free_all_resources", lambda c, w: c.free_all_resources()),
    ("save_intermediate_result", lambda c, w: c.save_intermediate_result(w.jid, 1.0)),
    ("get_intermediate_results_job", lambda c, w: c.get_intermediate_results_job(w.jid)),
    ("get_intermediate_results_jobs", lambda c, w: c.get_intermediate_results_jobs([w.jid])),
    ("get_intermediate_results_experiment", lambda c, w: c.get_intermediate_results_experiment(w.eid, "RUNNING")),
    ("save_multiple_results", lambda c, w: c.save_multiple_results(w.jid, w.irid, w.eid, ["acc"], [1.0])),
    ("set_last_multiple_results", lambda c, w: c.set_last_multiple_results(w.eid, w.jid, 1)),
]


# It reads only the table, yet runs per implementation as every contract test does.
@pytest.mark.usefixtures("implementation")
def test_it_checks_every_interface_method_once_closed():
    # Guards the table above: a method added to the interface must be added there too.
    checked = {name for name, _ in CLOSED_CALLS} | {"close", "is_closed", "maybe_get_experiment_status"}
    assert checked == set(AbstractConnector.__abstractmethods__)


@pytest.mark.parametrize("call", [pytest.param(call, id=name) for name, call in CLOSED_CALLS])
def test_it_refuses_every_other_call_once_closed(connector, world, call):
    connector.close()
    # Raised at once, without retries (Auptimizer retries 5 x 0.1 s, then a bare Exception).
    refused(ConnectorClosedError, lambda: call(connector, world), "closed")
