"""The write API: who may write what, bad input, and the connector's errors as statuses.

What each write *does* is the connector's contract, run over HTTP in
tests/contract/ (the [rest] tests); these tests cover what the API adds.
"""

import pytest
from django.db import OperationalError

from tests.factories import make_resource, make_share
from tracking.connector import DjangoConnector
from tracking.interface import BackendError, InvalidInputError, NotFoundError
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, MultipleResult, Resource, ResultLabel

pytestmark = pytest.mark.django_db

TRACKED = (Experiment, Job, JobAttempt, IntermediateResult, MultipleResult, ResultLabel, Resource)


def db_state():
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in TRACKED}


@pytest.fixture
def bobs(other_user, cpu):
    """bob's experiment, with a job on the cpu and one step."""
    connector = DjangoConnector()
    eid = connector.start_experiment("bob", {"name": "bob's"})
    jid = connector.start_job(eid, cpu.pk, {})
    irid = connector.save_intermediate_result(jid, 0.5)
    return eid, jid, irid


# (method, path, body) of every write that names an experiment or a job.
def foreign_writes(eid, jid, irid, rid):
    return [
        ("delete", f"/api/experiments/{eid}/", None),
        ("post", f"/api/experiments/{eid}/restart/", {}),
        ("post", f"/api/experiments/{eid}/end/", {}),
        ("post", f"/api/experiments/{eid}/status/", {"status": "STOPPED"}),
        ("post", f"/api/experiments/{eid}/error/", {"msg": "boom"}),
        ("post", f"/api/experiments/{eid}/jobs/", {"rid": rid, "config": {}}),
        ("post", f"/api/experiments/{eid}/jobs/", {"rid": rid, "config": {}, "take_resource": True}),
        ("post", f"/api/jobs/{jid}/attempts/", {"rid": rid}),
        ("post", f"/api/jobs/{jid}/attempts/", {"rid": rid, "take_resource": True}),
        ("post", f"/api/jobs/{jid}/end-attempt/", {}),
        ("post", f"/api/jobs/{jid}/end-attempt/", {"free_rid": rid}),
        ("post", f"/api/jobs/{jid}/end/", {"score": 1.0, "status": "FINISHED"}),
        ("post", f"/api/jobs/{jid}/end/", {"score": 1.0, "status": "FINISHED", "free_rid": rid}),
        ("post", f"/api/jobs/{jid}/status/", {"status": "FAILED"}),
        ("post", f"/api/jobs/{jid}/intermediate-results/", {"score": 1.0}),
        ("post", f"/api/jobs/{jid}/multiple-results/", {"eid": eid, "irid": irid, "labels": ["a"], "scores": [1.0]}),
        ("post", f"/api/jobs/{jid}/multiple-results/last/", {"eid": eid, "num_labels": 1}),
        ("post", "/api/intermediate-results/batch/", {"results": [{"jid": jid, "score": 1.0}]}),
    ]


def test_it_answers_a_write_to_another_users_experiment_as_if_it_did_not_exist(api, bobs, cpu):
    eid, jid, irid = bobs
    before = db_state()

    for method, path, body in foreign_writes(eid, jid, irid, cpu.pk):
        foreign = getattr(api, method)(path, body, format="json")
        # The same answer as for an id that was never used: no hint that it exists.
        unknown = getattr(api, method)(
            path.replace(str(eid), "999999999").replace(str(jid), "999999998"), body, format="json"
        )
        assert foreign.status_code == unknown.status_code == 404, path
        assert foreign.json()["detail"] == unknown.json()["detail"].replace("999999999", str(eid)).replace(
            "999999998", str(jid)
        ), path
    assert db_state() == before


def test_it_lets_staff_write_to_anyones_experiment(staff_api, bobs, cpu):
    eid, jid, _ = bobs

    assert (
        staff_api.post(f"/api/jobs/{jid}/end/", {"score": 2.0, "status": "FINISHED"}, format="json").status_code == 204
    )
    assert staff_api.post(f"/api/experiments/{eid}/end/", {}, format="json").status_code == 204

    assert Job.objects.get(pk=jid).score_value == 2.0
    assert Experiment.objects.get(pk=eid).status == "FINISHED"


def test_it_records_an_experiment_for_the_caller_by_default(api, user):
    response = api.post("/api/experiments/", {"exp_config": {"name": "toy", "lr": 0.1}}, format="json")

    assert response.status_code == 201
    experiment = Experiment.objects.get()
    assert response.json() == {"eid": experiment.pk, "name": "toy"}
    assert (experiment.owner, experiment.status, experiment.config) == (user, "RUNNING", {"name": "toy", "lr": 0.1})


def test_it_gives_the_unique_name_in_both_forms(api, user):
    api.post("/api/experiments/", {"name": "toy"}, format="json")

    by_dict = api.post("/api/experiments/", {"exp_config": {"name": "toy"}, "status": "CREATED"}, format="json").json()
    by_name = api.post("/api/experiments/", {"name": "toy", "config": {"lr": 1}}, format="json").json()

    assert (by_dict["name"], by_name["name"]) == ("toy (1)", "toy (2)")
    assert Experiment.objects.get(pk=by_dict["eid"]).config == {"name": "toy (1)"}
    assert Experiment.objects.get(pk=by_name["eid"]).config == {"lr": 1}


def test_it_does_not_let_a_researcher_record_for_another_user(api, other_user):
    theirs = api.post("/api/experiments/", {"username": "bob", "name": "x"}, format="json")
    nobody = api.post("/api/experiments/", {"username": "nobody", "name": "x"}, format="json")

    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["detail"] == nobody.json()["detail"].replace("nobody", "bob")
    assert not Experiment.objects.exists()


def test_it_tells_a_researcher_naming_another_user_what_the_connector_tells_of_an_unknown_user(api, other_user):
    from_api = api.post("/api/experiments/", {"username": "bob", "name": "x"}, format="json").json()["detail"]

    with pytest.raises(NotFoundError) as from_connector:
        DjangoConnector().start_experiment("nobody", "x", "{}")

    assert from_api == str(from_connector.value).replace("nobody", "bob")


@pytest.mark.parametrize("form", ["exp_config", "config"])
def test_it_answers_a_label_name_too_long_for_the_database_with_the_connectors_words(api, user, form):
    config = {"name": "x", "resource_args": {"multi_res_labels": ["y" * 256]}}
    body = {"exp_config": config} if form == "exp_config" else {"name": "x", "config": config}

    response = api.post("/api/experiments/", body, format="json")

    assert response.status_code == 400
    with pytest.raises(InvalidInputError) as from_connector:
        DjangoConnector().start_experiment("alice", config)
    assert response.json()["errors"] == {form: [str(from_connector.value)]}
    assert not Experiment.objects.exists()


def test_it_lets_staff_record_for_another_user(staff_api, other_user):
    response = staff_api.post("/api/experiments/", {"username": "bob", "name": "x"}, format="json")

    assert response.status_code == 201
    assert Experiment.objects.get().owner == other_user


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/experiments/", {"exp_config": {"name": "a"}, "name": "b"}, "exp_config"),
        ("/api/experiments/", {"exp_config": [1, 2]}, "exp_config"),
        ("/api/experiments/", {"name": "x", "config": {"bad": "nul\x00"}}, "config"),
        ("/api/experiments/", {"name": "x" * 256}, "name"),
        ("/api/experiments/", {"status": "FINISHED"}, "status"),
        (
            "/api/experiments/",
            {"name": "x", "config": {"resource_args": {"multi_res_labels": ["y" * 256]}}},
            "config",
        ),
        ("/api/experiments/{eid}/status/", {"status": "DONE"}, "status"),
        ("/api/experiments/{eid}/status/", {}, "status"),
        ("/api/experiments/{eid}/error/", {"msg": "a\x00b"}, "msg"),
        ("/api/experiments/{eid}/error/", {"msg": 3}, "msg"),
        ("/api/experiments/{eid}/jobs/", {"rid": "1"}, "rid"),
        ("/api/experiments/{eid}/jobs/", {"rid": 2**63}, "rid"),
        # Any JSON value is a job config (as Auptimizer stores any); text it cannot store is not.
        ("/api/experiments/{eid}/jobs/", {"rid": "{rid}", "config": "x\x00"}, "config"),
        ("/api/jobs/{jid}/end/", {"score": {"acc": 1}}, "score"),
        ("/api/jobs/{jid}/end/", {"score": True}, "score"),
        ("/api/jobs/{jid}/end/", {"score": 10**400}, "score"),
        ("/api/jobs/{jid}/end/", {"score": "text\x00"}, "score"),
        ("/api/jobs/{jid}/end/", {"status": "EARLY STOPPED"}, "status"),
        ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "scores": [1, [2]]}, "scores.1"),
        ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "labels": ["x" * 256], "scores": [1]}, "labels.0"),
        ("/api/jobs/{jid}/multiple-results/last/", {"eid": "{eid}", "num_labels": -1}, "num_labels"),
        (
            "/api/intermediate-results/batch/",
            {"results": [{"jid": "{jid}", "score": 1}, {"score": 2}]},
            "results.1.jid",
        ),
        ("/api/intermediate-results/batch/", {"results": [{"jid": "{jid}", "score": 1}] * 1001}, "results"),
    ],
)
def test_it_answers_bad_input_with_400_naming_the_field_and_writes_nothing(api, user, cpu, path, body, field):
    eid = DjangoConnector().start_experiment("alice", {"name": "mine"})
    jid = DjangoConnector().start_job(eid, cpu.pk, {})
    ids = {"{eid}": eid, "{jid}": jid, "{rid}": cpu.pk}

    def fill(value):
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return ids.get(value, value) if isinstance(value, str) else value

    before = db_state()
    response = api.post(path.format(eid=eid, jid=jid), fill(body), format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert response.json()["detail"].startswith(field)
    assert db_state() == before


def test_it_answers_the_connectors_invalid_input_with_400(api, user, cpu):
    eid = DjangoConnector().start_experiment("alice", {"name": "mine"})
    other = DjangoConnector().start_experiment("alice", {"name": "other"})
    jid = DjangoConnector().start_job(eid, cpu.pk, {})

    response = api.post(f"/api/jobs/{jid}/multiple-results/", {"eid": other, "scores": [1.0]}, format="json")

    assert response.status_code == 400
    message = f"job {jid} is not part of experiment {other}"
    assert response.json() == {"detail": message, "errors": {"non_field_errors": [message]}}


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"score": NaN}', "JSON parse error"),
        (b'{"score": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b"not json", "JSON parse error"),
    ],
    ids=["nan-literal", "deep", "garbage"],
)
def test_it_answers_a_body_that_is_not_json_with_400(api, user, cpu, body, message):
    eid = DjangoConnector().start_experiment("alice", {"name": "mine"})
    jid = DjangoConnector().start_job(eid, cpu.pk, {})

    response = api.post(f"/api/jobs/{jid}/intermediate-results/", body, content_type="application/json")

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not IntermediateResult.objects.exists()


def test_it_answers_a_failing_connector_with_503(api, user, cpu, monkeypatch):
    eid = DjangoConnector().start_experiment("alice", {"name": "mine"})

    def fail(self, *args):
        raise BackendError("end_experiment: the database failed: disk I/O error")

    monkeypatch.setattr(DjangoConnector, "end_experiment", fail)
    response = api.post(f"/api/experiments/{eid}/end/", {}, format="json")

    assert response.status_code == 503
    assert "disk I/O error" in response.json()["detail"]


def test_it_answers_a_failing_database_with_503(api, user, monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(DjangoConnector, "get_resource_type", fail)
    response = api.get("/api/resources/types/")

    assert response.status_code == 503
    assert response.json() == {"detail": "The database is unavailable; try again later.", "errors": {}}


@pytest.mark.parametrize(
    "path", ["/api/nothing/", "/api/experiments/9223372036854775808/status/", "/api/jobs/-9223372036854775809/end/"]
)
def test_it_answers_an_unknown_path_with_a_json_404(api, path):
    response = api.post(path, {}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": f"nothing at {path}", "errors": {}}


# -- batches ---------------------------------------------------------------------------------


def test_it_records_a_batch_of_intermediate_and_labeled_results(api, user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "fast", "resource_args": {"multi_res_labels": ["acc", "loss"]}})
    first, second = connector.start_job(eid, cpu.pk, {}), connector.start_job(eid, cpu.pk, {})
    results = [
        {"jid": first, "score": 0.1, "scores": [0.1, 0.9]},
        {"jid": second, "score": "nan"},
        {"jid": first, "score": 0.2, "labels": ["accuracy", "loss"], "scores": [0.2, "inf"]},
    ]

    response = api.post("/api/intermediate-results/batch/", {"results": results}, format="json")

    assert response.status_code == 201
    irids = response.json()["irids"]
    assert connector.get_intermediate_results_job(first) == [0.1, 0.2]
    assert [IntermediateResult.objects.get(pk=irid).job_id for irid in irids] == [first, second, first]
    rows = MultipleResult.objects.filter(job_id=first).order_by("pk")
    assert [(row.intermediate_result_id, row.label_order, row.value_decoded) for row in rows] == [
        (irids[0], 1, 0.1),
        (irids[0], 2, 0.9),
        (irids[2], 1, 0.2),
        (irids[2], 2, float("inf")),
    ]
    assert list(ResultLabel.objects.filter(experiment_id=eid).values_list("name", flat=True)) == ["accuracy", "loss"]


def test_it_records_nothing_of_a_batch_with_one_bad_item(api, user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "fast"})
    jid = connector.start_job(eid, cpu.pk, {})
    before = db_state()
    # The last item's labels do not match its values: the connector refuses it.
    results = [{"jid": jid, "score": 0.1}, {"jid": jid, "score": 0.2, "labels": ["a"], "scores": [1, 2]}]

    response = api.post("/api/intermediate-results/batch/", {"results": results}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "1 labels for 2 scores"
    assert db_state() == before


def test_it_records_nothing_of_a_batch_naming_another_users_job(api, bobs, user, cpu):
    _, bobs_job, _ = bobs
    eid = DjangoConnector().start_experiment("alice", {"name": "mine"})
    jid = DjangoConnector().start_job(eid, cpu.pk, {})
    before = db_state()

    response = api.post(
        "/api/intermediate-results/batch/",
        {"results": [{"jid": jid, "score": 1}, {"jid": bobs_job, "score": 1}]},
        format="json",
    )

    assert response.status_code == 404
    assert response.json()["detail"] == f"job {bobs_job} does not exist"
    assert db_state() == before


# -- resources -----------------------------------------------------------------------------------


def test_it_lets_any_executor_take_a_resource_but_free_only_its_own(api, other_api, staff_api, cpu):
    assert api.post(f"/api/resources/{cpu.pk}/take/").json() == {"taken": True}
    assert other_api.post(f"/api/resources/{cpu.pk}/take/").json() == {"taken": False}

    # bob's executor must not hand alice's resource to a third while she runs there.
    refused = other_api.post(f"/api/resources/{cpu.pk}/free/")
    assert refused.status_code == 403
    assert "held by another executor" in refused.json()["detail"]
    assert Resource.objects.get(pk=cpu.pk).status == "busy"

    assert api.post(f"/api/resources/{cpu.pk}/free/").json() == {"freed": True}
    assert other_api.post(f"/api/resources/{cpu.pk}/free/").json() == {"freed": True}  # a free one: harmless
    api.post(f"/api/resources/{cpu.pk}/take/")
    assert staff_api.post(f"/api/resources/{cpu.pk}/free/").json() == {"freed": True}
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def bobs_hold(other_api, resource):
    """bob's executor takes the resource over the API; what it holds, to compare later."""
    assert other_api.post(f"/api/resources/{resource.pk}/take/").json() == {"taken": True}
    return Resource.objects.filter(pk=resource.pk).values_list("status", "holder", "taken_at").get()


def test_it_keeps_bobs_resource_held_when_alice_ends_a_job_recorded_on_it(api, other_api, user, cpu):
    # Issue 12, defect 1: alice records a job of her own on the cpu bob's executor holds,
    # without taking it, and ends it (and an attempt of another) naming that cpu. Both
    # end; the cpu stays bob's, so no third executor is handed it.
    held = bobs_hold(other_api, cpu)
    eid = api.post("/api/experiments/", {"name": "sly"}, format="json").json()["eid"]
    jobs = [
        api.post(f"/api/experiments/{eid}/jobs/", {"rid": cpu.pk, "take_resource": take}, format="json").json()["jid"]
        for take in (False, True, False)
    ]

    assert api.post(f"/api/jobs/{jobs[0]}/end/", {"score": 1.0, "free_rid": cpu.pk}, format="json").status_code == 204
    assert api.post(f"/api/jobs/{jobs[1]}/end/", {"score": 2.0, "free_rid": cpu.pk}, format="json").status_code == 204
    assert api.post(f"/api/jobs/{jobs[2]}/end-attempt/", {"free_rid": cpu.pk}, format="json").status_code == 204

    assert Resource.objects.filter(pk=cpu.pk).values_list("status", "holder", "taken_at").get() == held
    assert list(Job.objects.filter(pk__in=jobs[:2]).order_by("pk").values_list("score", flat=True)) == [1.0, 2.0]
    assert not JobAttempt.objects.filter(job_id__in=jobs, end_time__isnull=True).exists()
    # ... and bob still frees it himself.
    assert other_api.post(f"/api/resources/{cpu.pk}/free/").json() == {"freed": True}


def test_it_keeps_bobs_resource_held_when_alice_retries_a_job_on_it(api, other_api, user, cpu):
    # The mirror trick: a retry that "takes" the held cpu (the take loses), then fails.
    held = bobs_hold(other_api, cpu)
    eid = api.post("/api/experiments/", {"name": "sly"}, format="json").json()["eid"]
    jid = api.post(f"/api/experiments/{eid}/jobs/", {"rid": make_resource().pk}, format="json").json()["jid"]
    api.post(f"/api/jobs/{jid}/attempts/", {"rid": cpu.pk, "take_resource": True}, format="json")

    assert api.post(f"/api/jobs/{jid}/end-attempt/", {"free_rid": cpu.pk}, format="json").status_code == 204
    assert Resource.objects.filter(pk=cpu.pk).values_list("status", "holder", "taken_at").get() == held


def test_it_keeps_bobs_resource_held_when_alice_ends_a_job_through_her_connector(api, other_api, user, cpu):
    # The same attack with DjangoConnector itself.
    held = bobs_hold(other_api, cpu)
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "sly"})
    jid = connector.start_job(eid, cpu.pk, {})
    connector.job_finished(cpu.pk, jid, 1.0, "FINISHED")
    assert Resource.objects.filter(pk=cpu.pk).values_list("status", "holder", "taken_at").get() == held
    assert Job.objects.get(pk=jid).status == "FINISHED"


def test_it_frees_the_resource_a_job_took_over_the_api(api, cpu):
    eid = api.post("/api/experiments/", {"name": "plain"}, format="json").json()["eid"]
    jid = api.post(f"/api/experiments/{eid}/jobs/", {"rid": cpu.pk, "take_resource": True}, format="json").json()["jid"]
    assert Resource.objects.get(pk=cpu.pk).status == "busy"
    assert api.post(f"/api/jobs/{jid}/end/", {"score": 1.0, "free_rid": cpu.pk}, format="json").status_code == 204
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_refuses_a_write_to_an_experiment_shared_read_only(api, other_user, user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("bob", {"name": "shared"})
    jid = connector.start_job(eid, cpu.pk, {})
    make_share(Experiment.objects.get(pk=eid), user=user)
    before = db_state()

    assert api.get(f"/api/experiments/{eid}/status/").json() == {"status": "RUNNING"}
    ended = api.post(f"/api/experiments/{eid}/end/", {}, format="json")
    saved = api.post(f"/api/jobs/{jid}/intermediate-results/", {"score": 1.0}, format="json")
    batch = api.post("/api/intermediate-results/batch/", {"results": [{"jid": jid, "score": 1.0}]}, format="json")

    assert (ended.status_code, saved.status_code, batch.status_code) == (403, 403, 403)
    assert ended.json()["detail"] == f"experiment {eid} is shared with you to read, not to change"
    assert db_state() == before


def test_it_frees_only_what_the_same_connector_took(api, other_user, cpu):
    gpu = make_resource("gpu")
    mine, other_instance = {"HTTP_AUP_CONNECTOR_ID": "a" * 32}, {"HTTP_AUP_CONNECTOR_ID": "b" * 32}
    api.post(f"/api/resources/{cpu.pk}/take/", **mine)
    api.post(f"/api/resources/{gpu.pk}/take/", **other_instance)

    assert api.post("/api/resources/free-all/", **mine).status_code == 204

    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert Resource.objects.get(pk=gpu.pk).status == "busy"


def test_it_does_not_let_one_user_free_another_users_holds_with_their_connector_id(api, other_api, cpu):
    api.post(f"/api/resources/{cpu.pk}/take/", HTTP_AUP_CONNECTOR_ID="a" * 32)

    other_api.post("/api/resources/free-all/", HTTP_AUP_CONNECTOR_ID="a" * 32)

    assert Resource.objects.get(pk=cpu.pk).status == "busy"


def test_it_refuses_a_malformed_connector_id(api, cpu):
    response = api.post(f"/api/resources/{cpu.pk}/take/", HTTP_AUP_CONNECTOR_ID="not hex")

    assert response.status_code == 400
    assert "Aup-Connector-Id" in response.json()["errors"]
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_lets_only_staff_add_change_and_remove_resources(api, staff_api, cpu):
    assert api.post("/api/resources/", {"type": "gpu", "name": "0"}, format="json").status_code == 403
    assert api.patch(f"/api/resources/{cpu.pk}/", {"in_service": False}, format="json").status_code == 403
    assert api.delete(f"/api/resources/{cpu.pk}/").status_code == 403
    assert list(Resource.objects.values_list("pk", "in_service")) == [(cpu.pk, True)]

    added = staff_api.post("/api/resources/", {"type": "gpu", "name": "0"}, format="json")
    assert added.status_code == 201
    assert added.json() == {
        "rid": added.json()["rid"],
        "type": "gpu",
        "name": "0",
        "status": "free",
        "in_service": True,
        "busy_since": None,
    }
    changed = staff_api.patch(f"/api/resources/{cpu.pk}/", {"in_service": False}, format="json")
    assert (changed.status_code, changed.json()["in_service"]) == (200, False)
    assert api.post(f"/api/resources/{cpu.pk}/take/").json() == {"taken": False}
    assert staff_api.delete(f"/api/resources/{cpu.pk}/").status_code == 204
    assert staff_api.delete(f"/api/resources/{cpu.pk}/").status_code == 404
    assert list(Resource.objects.values_list("type", flat=True)) == ["gpu"]


def test_it_answers_in_json_whatever_the_accept_header_says(api):
    response = api.get("/api/resources/types/", HTTP_ACCEPT="text/x-nothing-we-have")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_it_answers_too_many_query_parameters_with_a_json_400(api):
    response = api.get("/api/intermediate-results/?" + "&".join(f"jid={n}" for n in range(1200)))

    assert response.status_code == 400
    assert "Bad request" in response.json()["detail"]
