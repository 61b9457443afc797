"""The API's own refusal of input no database or page can carry (issue 12).

RestConnector refuses all of this before it sends (tests/contract/test_bad_input.py); these
requests are what any other client can still send: raw JSON, with a lone surrogate written
as the escape \\udfff, a NUL as \\u0000, too many labels, a number no float holds, an empty
body. Each is a 400 naming the field, and nothing is written: never a 500 (a page failing
for good on a stored surrogate) nor a 503 (the database refusing what it was handed).
"""

import json

import pytest

from tests.contract.support import db_state
from tracking.connector import DjangoConnector
from tracking.interface import MAX_LABELS, MAX_NESTING
from tracking.models import Experiment, IntermediateResult, Job, MultipleResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def ids(user, cpu):
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "mine"})
    jid = connector.start_job(eid, cpu.pk, {})
    return {"eid": eid, "jid": jid, "rid": cpu.pk}


def post_json(client, path, body):
    # json.dumps writes a lone surrogate as the escape \udfff, which JSON allows and
    # Python's parser turns back into the surrogate; DRF's test renderer would refuse it.
    return client.post(path, json.dumps(body), content_type="application/json")


def labels(count):
    return [f"label {order}" for order in range(1, count + 1)]


# (path, body with TEXT where the bad text goes, the field the answer names)
TEXT_WRITES = [
    ("/api/experiments/", {"username": "TEXT", "name": "x"}, "username"),
    ("/api/experiments/", {"name": "TEXT"}, "name"),
    ("/api/experiments/", {"name": "x", "config": {"note": ["TEXT"]}}, "config"),
    ("/api/experiments/", {"name": "x", "config": {"TEXT": 1}}, "config"),
    ("/api/experiments/", {"exp_config": {"name": "TEXT"}}, "exp_config"),
    ("/api/experiments/", {"exp_config": {"name": "x", "resource_args": {"multi_res_labels": ["TEXT"]}}}, "exp_config"),
    ("/api/experiments/{eid}/error/", {"msg": "TEXT"}, "msg"),
    ("/api/experiments/{eid}/jobs/", {"rid": "{rid}", "config": {"note": "TEXT"}}, "config"),
    ("/api/jobs/{jid}/end/", {"score": "TEXT"}, "score"),
    ("/api/jobs/{jid}/intermediate-results/", {"score": "TEXT"}, "score"),
    ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "labels": ["a", "TEXT"], "scores": [1, 2]}, "labels.1"),
    ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "scores": [1, "TEXT"]}, "scores.1"),
    ("/api/intermediate-results/batch/", {"results": [{"jid": "{jid}", "score": "TEXT"}]}, "results.0.score"),
    (
        "/api/intermediate-results/batch/",
        {"results": [{"jid": "{jid}", "score": 1, "labels": ["TEXT"], "scores": [1]}]},
        "results.0.labels.0",
    ),
]


def filled(value, ids, text):
    if isinstance(value, dict):
        return {filled(key, ids, text): filled(item, ids, text) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(item, ids, text) for item in value]
    if value == "TEXT":
        return text
    if isinstance(value, str) and value.startswith("{"):
        return ids[value.strip("{}")]
    return value


@pytest.mark.parametrize("kind, text", [("surrogate", "bad \udfff"), ("nul", "bad \x00")], ids=["surrogate", "nul"])
@pytest.mark.parametrize("path, body, field", TEXT_WRITES, ids=[f"{p}-{f}" for p, _, f in TEXT_WRITES])
def test_it_answers_text_that_cannot_be_stored_with_400_naming_the_field(api, ids, path, body, field, kind, text):
    before = db_state()

    response = post_json(api, path.format(**ids), filled(body, ids, text))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert ("NUL" if kind == "nul" else "surrogate") in response.json()["detail"]
    assert db_state() == before


@pytest.mark.parametrize("field", ["type", "name"])
def test_it_answers_a_resource_text_that_cannot_be_stored_with_400(staff_api, field):
    body = {"type": "cpu", "name": "box", field: "bad \udfff"}

    response = post_json(staff_api, "/api/resources/", body)

    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    "path, query",
    [
        ("/api/experiments/ids/", "username=a%00b"),
        ("/api/experiments/", "search=a%00b"),
        ("/api/experiments/", "owner=a%00b"),
        ("/api/resources/available/", "rtype=cpu%00"),
        ("/api/experiments/{eid}/multiple-results/", "label=a%00b"),
    ],
)
def test_it_answers_a_query_text_with_a_nul_with_400(api, ids, path, query):
    # PostgreSQL refuses to compare text holding NUL: a database error, once a 503.
    response = api.get(f"{path.format(**ids)}?{query}")

    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["detail"]


def nested(depth):
    value = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/experiments/", {"name": "deep", "config": nested(MAX_NESTING + 1)}, "config"),
        ("/api/experiments/", {"exp_config": {"name": "deep", "x": nested(MAX_NESTING)}}, "exp_config"),
        ("/api/experiments/{eid}/jobs/", {"rid": "{rid}", "config": nested(MAX_NESTING + 1)}, "config"),
    ],
)
def test_it_answers_a_config_nested_past_the_limit_with_400(api, ids, path, body, field):
    before = db_state()

    response = post_json(api, path.format(**ids), filled(body, ids, None))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert str(MAX_NESTING) in response.json()["detail"]
    assert db_state() == before


def test_it_stores_a_config_nested_to_the_limit(api, ids):
    response = post_json(api, "/api/experiments/", {"name": "deep", "config": nested(MAX_NESTING)})

    assert response.status_code == 201
    assert Experiment.objects.get(pk=response.json()["eid"]).config == nested(MAX_NESTING)


@pytest.mark.parametrize("count", [MAX_LABELS + 1, 501, 40_000], ids=["limit+1", "sqlite-compound", "pg-params"])
@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "labels": "LABELS", "scores": "SCORES"}, "labels"),
        ("/api/jobs/{jid}/multiple-results/", {"eid": "{eid}", "scores": "SCORES"}, "scores"),
        (
            "/api/intermediate-results/batch/",
            {"results": [{"jid": "{jid}", "score": 1, "scores": "SCORES"}]},
            "results.0.scores",
        ),
        (
            "/api/experiments/",
            {"name": "many", "config": {"resource_args": {"multi_res_labels": "LABELS"}}},
            "config",
        ),
        ("/api/experiments/", {"exp_config": {"name": "many", "resource_args": {"multi_res_labels": "LABELS"}}}, "exp_config"),
    ],
    ids=["labels", "scores", "batch", "config", "exp_config"],
)
def test_it_answers_more_labels_than_the_limit_with_400_at_once(api, ids, path, body, field, count):
    # 501 values were a 503 (SQLite's compound SELECT limit) that RestConnector retried
    # for 18 seconds, 40,000 one too (PostgreSQL's 65,535 parameters).
    text = json.dumps(filled(body, ids, None)).replace('"LABELS"', json.dumps(labels(count)))
    text = text.replace('"SCORES"', json.dumps([0.5] * count))
    before = db_state()

    response = api.post(path.format(**ids), text, content_type="application/json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert str(MAX_LABELS) in response.json()["detail"]
    assert db_state() == before


def test_it_stores_as_many_labeled_values_as_the_limit(api, ids):
    body = {"eid": ids["eid"], "labels": labels(MAX_LABELS), "scores": [0.5] * MAX_LABELS}

    response = post_json(api, f"/api/jobs/{ids['jid']}/multiple-results/", body)

    assert response.status_code == 204
    assert MultipleResult.objects.count() == MAX_LABELS


@pytest.mark.parametrize("num_labels", [MAX_LABELS + 1, 2**63, 10**30], ids=str)
def test_it_answers_num_labels_beyond_the_limit_with_400(api, ids, num_labels):
    body = {"eid": ids["eid"], "num_labels": num_labels}

    response = post_json(api, f"/api/jobs/{ids['jid']}/multiple-results/last/", body)

    assert response.status_code == 400
    assert "num_labels" in response.json()["errors"]


# -- lenient input, decided (issue 12, defect 12) ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"config": {"lr": 0.1}}', b'{"status": "CREATED"}'],
    ids=["no-body", "empty-object", "config-only", "status-only"],
)
def test_it_answers_a_new_experiment_without_a_name_or_exp_config_with_400(api, user, body):
    # An empty body is a client's slip (a forgotten body or Content-Type), not a request for
    # an experiment without a name: that one is asked for with "name": null.
    response = api.post("/api/experiments/", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "name" in response.json()["errors"]
    assert not Experiment.objects.exists()


def test_it_records_an_unnamed_experiment_when_asked_with_a_null_name(api, user):
    # As the interface allows for Auptimizer (start_experiment(username, None, blob)).
    response = post_json(api, "/api/experiments/", {"name": None, "config": {"lr": 0.1}})

    assert response.status_code == 201
    assert response.json()["name"] is None
    assert Experiment.objects.get().config == {"lr": 0.1}


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1.5e308000"])
@pytest.mark.parametrize(
    "path, template",
    [
        ("/api/jobs/{jid}/end/", b'{"score": %s}'),
        ("/api/jobs/{jid}/intermediate-results/", b'{"score": %s}'),
        ("/api/jobs/{jid}/multiple-results/", b'{"eid": {eid}, "scores": [%s]}'),
        ("/api/experiments/{eid}/jobs/", b'{"rid": {rid}, "config": {"lr": %s}}'),
    ],
    ids=["end", "step", "labeled", "job-config"],
)
def test_it_answers_a_number_no_float_holds_with_400_rather_than_storing_inf(api, ids, path, template, number):
    # Python reads 1e999 as inf; JSON has no infinity, and its wire spelling is the text
    # "inf". A number that overflows is a client's mistake, not an infinite score.
    body = template.replace(b"%s", number)
    for key, value in ids.items():
        body = body.replace(b"{%s}" % key.encode(), str(value).encode())
    before = db_state()

    response = api.post(path.format(**ids), body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "too large for a 64-bit float" in response.json()["detail"]
    assert db_state() == before


def test_it_stores_the_wire_spelling_of_infinity_and_the_largest_float(api, ids):
    jid = ids["jid"]

    assert post_json(api, f"/api/jobs/{jid}/intermediate-results/", {"score": "inf"}).status_code == 201
    assert post_json(api, f"/api/jobs/{jid}/intermediate-results/", {"score": 1.7976931348623157e308}).status_code == 201
    assert api.post(f"/api/jobs/{jid}/end/", b'{"score": 1e-999}', content_type="application/json").status_code == 204

    steps = IntermediateResult.objects.filter(job_id=jid).order_by("number")
    assert [step.score_value for step in steps] == [float("inf"), 1.7976931348623157e308]
    assert Job.objects.get(pk=jid).score_value == 0.0  # an underflow rounds to 0, as any float parser


def test_the_fields_say_in_the_interfaces_words_why_a_text_cannot_be_stored():
    from rest_framework.exceptions import ValidationError

    from tracking.api.fields import StrictCharField

    field = StrictCharField()
    assert field.run_validation("naïve ✓") == "naïve ✓"
    with pytest.raises(ValidationError, match="contains a NUL character, which cannot be stored"):
        field.run_validation("a\x00")
    with pytest.raises(ValidationError, match=r"contains a lone surrogate \(U\+DFFF\)"):
        field.run_validation("a\udfff")
