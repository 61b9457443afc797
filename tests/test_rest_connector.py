"""RestConnector: the connector over HTTP, against a live server."""

import math

import pytest

from tests.factories import make_resource, make_user
from tracking.interface import InvalidInputError, NotFoundError
from tracking.models import Experiment, IntermediateResult, Job, MultipleResult, Resource

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_records_an_experiment_end_to_end(rest):
    make_user("alice")
    cpu = make_resource("cpu")
    config = {"name": "toy", "resource_args": {"multi_res_labels": ["acc", "loss"]}}

    eid = rest.start_experiment("alice", config)
    [rid] = rest.get_available_resource("alice", "cpu")
    jid = rest.job_started(eid, rid, {"lr": 0.1})
    irid = rest.save_intermediate_result(jid, 0.5)
    rest.save_multiple_results(jid, irid, eid, None, [0.5, float("nan")])
    rest.set_last_multiple_results(eid, jid, 2)
    rest.job_finished(rid, jid, 0.75, "FINISHED")
    rest.end_experiment(eid)

    experiment = Experiment.objects.get(pk=eid)
    assert (experiment.name, experiment.status, experiment.owner.username) == ("toy", "FINISHED", "alice")
    assert config["name"] == "toy"
    assert Job.objects.get(pk=jid).score_value == 0.75
    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert IntermediateResult.objects.get(pk=irid).score_value == 0.5
    values = [row.value_decoded for row in MultipleResult.objects.filter(job_id=jid).order_by("label_order")]
    assert values[0] == 0.5 and math.isnan(values[1])
    assert rest.get_best_result(eid) == [jid, 0.75]
    assert rest.get_intermediate_results_job(jid) == [0.5]
    assert rest.get_experiment_status(eid) == "FINISHED"


def test_it_raises_the_connectors_exceptions(rest):
    make_user("alice")
    eid = rest.start_experiment("alice", "toy", "{}")

    with pytest.raises(NotFoundError, match="999999"):
        rest.end_job(999999, 1.0, "FINISHED")
    with pytest.raises(InvalidInputError, match="DONE"):
        rest.change_experiment_status(eid, "DONE")
    with pytest.raises(NotFoundError, match="nobody"):
        rest.start_experiment("nobody", {"name": "x"})
