"""The batch endpoint's items for the buffered client (issue 14, part 2): labeled results
alone, of a step sent in an earlier batch (irid), and the experiment a
save_multiple_results named (eid), checked as POST /api/jobs/<jid>/multiple-results/ checks it."""

import json

import pytest

from tests.factories import make_share
from tracking.connector import DjangoConnector
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, MultipleResult, Resource, ResultLabel

pytestmark = pytest.mark.django_db

BATCH = "/api/intermediate-results/batch/"
TRACKED = (Experiment, Job, JobAttempt, IntermediateResult, MultipleResult, ResultLabel, Resource)


def db_state():
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TRACKED}


@pytest.fixture
def recording(user, cpu):
    """alice's experiment with a job that has one step: (eid, jid, irid)."""
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "fast", "resource_args": {"multi_res_labels": ["acc", "loss"]}})
    jid = connector.start_job(eid, cpu.pk, {})
    return eid, jid, connector.save_intermediate_result(jid, 0.5)


def labeled_rows(jid):
    rows = MultipleResult.objects.filter(job_id=jid).order_by("pk")
    return [(row.intermediate_result_id, row.label_order, row.value_decoded) for row in rows]


def test_it_records_labeled_results_of_an_earlier_step_beside_new_steps(api, recording):
    eid, jid, irid = recording
    results = [
        {"jid": jid, "irid": irid, "eid": eid, "scores": [0.4, 0.6]},
        {"jid": jid, "score": 0.7, "eid": eid, "labels": ["accuracy", "loss"], "scores": [0.7, 0.3]},
        {"jid": jid, "irid": None, "scores": [0.9]},  # labeled values of no step, as save_multiple_results(irid=None)
    ]

    response = api.post(BATCH, {"results": results}, format="json")

    assert response.status_code == 201
    irids = response.json()["irids"]
    new_step = IntermediateResult.objects.get(job_id=jid, number=1).pk
    assert irids == [irid, new_step, None]
    assert labeled_rows(jid) == [(irid, 1, 0.4), (irid, 2, 0.6), (new_step, 1, 0.7), (new_step, 2, 0.3), (None, 1, 0.9)]
    assert list(ResultLabel.objects.filter(experiment_id=eid).values_list("name", flat=True)) == ["accuracy", "loss"]


@pytest.mark.parametrize(
    "item, status, detail",
    [
        ({"score": 0.7, "irid": "{irid}"}, 400, "not both or neither"),
        ({"scores": [1.0]}, 400, "not both or neither"),
        ({"irid": 999_999_999, "scores": [1.0]}, 404, "intermediate result 999999999 of job {jid} does not exist"),
        ({"score": 0.7, "eid": 999_999_999, "scores": [1.0]}, 404, "experiment 999999999 does not exist"),
        ({"score": 0.7, "eid": "{elsewhere}", "scores": [1.0]}, 400, "job {jid} is not part of experiment {elsewhere}"),
        ({"irid": "{irid}", "eid": "{elsewhere}", "scores": []}, 400, "job {jid} is not part of experiment {elsewhere}"),
        ({"score": 0.7, "eid": "{bobs}", "scores": [1.0]}, 404, "experiment {bobs} does not exist"),
    ],
    ids=["score-and-irid", "neither", "unknown-irid", "unknown-eid", "another-experiment", "another-experiment-no-values", "bobs"],
)
def test_it_refuses_a_batch_whose_labeled_item_is_wrong_and_records_none_of_it(api, recording, other_user, item, status, detail):
    eid, jid, irid = recording
    connector = DjangoConnector()
    names = {
        "jid": jid,
        "irid": irid,
        "elsewhere": connector.start_experiment("alice", {"name": "elsewhere"}),
        "bobs": connector.start_experiment("bob", {"name": "bob's"}),
    }
    item = {key: int(value.format(**names)) if isinstance(value, str) else value for key, value in item.items()}
    before = db_state()

    response = api.post(BATCH, {"results": [{"jid": jid, "score": 0.1}, {"jid": jid, **item}]}, format="json")

    assert response.status_code == status, response.json()
    assert detail.format(**names) in str(response.json())
    assert db_state() == before


def test_it_refuses_labeled_results_for_a_job_of_an_experiment_shared_read_only(api, user, other_user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("bob", {"name": "bob's"})
    jid = connector.start_job(eid, cpu.pk, {})
    irid = connector.save_intermediate_result(jid, 0.5)
    make_share(Experiment.objects.get(pk=eid), user=user)  # alice sees it, and may not change it
    before = db_state()

    response = api.post(BATCH, {"results": [{"jid": jid, "irid": irid, "eid": eid, "scores": [1.0]}]}, format="json")

    assert response.status_code == 403
    assert db_state() == before


def test_it_documents_the_labeled_items(api):
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    item = schema["components"]["schemas"]["BatchItemInRequest"]
    assert set(item["properties"]) >= {"jid", "score", "irid", "eid", "labels", "scores"}
    assert item["required"] == ["jid"]
    assert "labeled values belong to" in item["properties"]["irid"]["description"]
    described = schema["paths"]["/api/intermediate-results/batch/"]["post"]["description"]
    assert "An item without score and with irid" in described
