"""The parallel-coordinates data in the API (issue 13): GET /api/experiments/<eid>/parcoords/,
the page's parcoords.json payload with its objective and brush, its errors, access and
query counts."""

import json

import pytest
from rest_framework.test import APIClient

from tests.api_support import client_for
from tests.factories import make_configured_experiment, make_configured_jobs, make_jobs, make_share, make_user
from tracking import brush as brushes

pytestmark = pytest.mark.django_db

PARAMETERS = [
    {"name": "lr", "range": [1e-4, 0.3], "type": "float", "log": True},
    {"name": "dropout", "range": [0.0, 0.6], "type": "float"},
    {"name": "batch_size", "range": [256, 32, 64], "type": "choice"},
    {"name": "@mark", "range": ["a", "b,c"], "type": "choice"},
]


@pytest.fixture
def experiment(alice):
    return make_configured_experiment(
        alice, name="mnist", parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )


def search(experiment, count):
    """`count` finished jobs: lr 10**-(1 + i % 4), dropout i/count*0.6, batch size
    cycling 32, 64, 256, @mark "a" or "b,c"; score i/count; loss (label 2) 1 - score."""
    specs = []
    for i in range(count):
        config = {"lr": 10 ** -(1 + i % 4), "dropout": round(0.6 * i / count, 4),
                  "batch_size": (32, 64, 256)[i % 3], "@mark": ("a", "b,c")[i % 2]}
        specs.append((config, i / count, {2: 1 - i / count}))
    return make_configured_jobs(experiment, specs)


def path(experiment):
    return f"/api/experiments/{experiment.pk}/parcoords/"


def warm_up(client):
    # A token's first request also records its use (one UPDATE a minute): not counted.
    client.get("/api/resources/types/")


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"objective": "score"},
        {"objective": ""},  # as the page: the score
        {"objective": "2", "b.@2": "..0.5"},
        {"b.lr": "0.005..1", "b.batch_size": "in:32,64"},
        {"objective": "1", "b.@@mark": "in:b\\,c", "b.dropout": "..0.3", "b.@score": "0.1.."},
    ],
)
def test_it_answers_the_pages_payload_for_the_same_objective_and_brush(client, api, alice, experiment, query):
    search(experiment, 24)
    make_jobs(experiment, 1, status="RUNNING", score=None)
    client.force_login(alice)
    page = client.get(f"/experiments/{experiment.pk}/parcoords.json", query)
    answer = api.get(path(experiment), query)
    assert page.status_code == answer.status_code == 200
    assert answer.json() == page.json()
    # The same JSON text too, whitespace aside: no number was retyped (1 and 1.0 are
    # equal in Python, not in text) or rounded on the way.
    assert json.dumps(answer.json(), sort_keys=True) == json.dumps(page.json(), sort_keys=True)
    assert answer.json()["total"] == 25 and answer.json()["drawn"] == (24 if query.get("objective") != "1" else 0)


def test_it_counts_the_jobs_inside_the_brush(api, experiment):
    search(experiment, 24)
    whole = api.get(path(experiment)).json()
    assert whole["inside"] == whole["total"] == whole["drawn"] == 24 and whole["brush"] == []
    # lr 0.1 or 0.01 (i % 4 in 0, 1) and batch 32 or 64 (i % 3 in 0, 1).
    body = api.get(path(experiment), {"b.lr": "0.005..1", "b.batch_size": "in:32,64"}).json()
    assert body["inside"] == len([i for i in range(24) if i % 4 in (0, 1) and i % 3 in (0, 1)])
    assert body["drawn"] == 24  # the brush counts; every line is still drawn
    assert body["brush"] == [
        {"key": "batch_size", "value": "in:32,64", "categories": ["32", "64"]},
        {"key": "lr", "value": "0.005..1", "low": 0.005, "high": 1.0},
    ]
    # The objective's axis, a label's (loss = 1 - i/24 at most 0.5: i >= 12), and a
    # parameter named with an @ (doubled), its category holding a comma.
    body = api.get(path(experiment), {"objective": "2", "b.@2": "..0.5", "b.@@mark": "in:b\\,c"}).json()
    assert body["objective"]["name"] == "loss" and body["objective"]["direction"] == "min"
    assert body["inside"] == len([i for i in range(12, 24) if i % 2 == 1])
    assert [axis["key"] for axis in body["axes"]] == ["lr", "dropout", "batch_size", "@@mark", "@2"]


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"objective": "best"}, "objective", "Give 'score' or a label's order"),
        ({"objective": "0"}, "objective", "Give 'score' or a label's order"),
        ({"objective": "score\n"}, "objective", "Give 'score' or a label's order"),
        ({"objective": " score"}, "objective", "Give 'score' or a label's order"),
        ({"objective": "7"}, "objective", "has no label 7"),
        ({"b.lr": "0.1"}, "b.lr", "b.lr must be a range"),
        ({"b.lr": "1..0.1"}, "b.lr", "b.lr must be a range"),
        ({"b.batch_size": "in:32\\"}, "b.batch_size", "must be in:"),
        ({"b.depth": "0..1"}, "b.depth", "b.depth names no parameter"),
        ({"b.@9": "0..1"}, "b.@9", "names no labeled result"),
        ({"b.@best": "0..1"}, "b.@best", "an objective is @score"),
        ({"b.@score": "in:1"}, "b.@score", "must be a range"),
        ({"b.dropout": "\x00"}, "b.dropout", "malformed"),
    ],
)
def test_it_refuses_a_bad_objective_or_brush_with_a_400_naming_it(api, experiment, query, field, message):
    search(experiment, 3)
    response = api.get(path(experiment), {"b.lr": "..0.5", **query})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"} and set(body["errors"]) == {field}
    assert message in body["errors"][field][0] and message in body["detail"]


def test_it_names_every_bad_key_and_refuses_too_many(api, experiment):
    search(experiment, 3)
    response = api.get(path(experiment) + "?b.lr=0..1&b.lr=0..2&b.dropout=x&b.batch_size=in:32")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"b.lr", "b.dropout"} and "given 2 times" in errors["b.lr"][0]
    many = {f"b.p{i}": "0..1" for i in range(brushes.MAX_BRUSHES + 1)}
    response = api.get(path(experiment), many)
    assert response.status_code == 400 and list(response.json()["errors"]) == ["b.*"]


def test_it_needs_credentials(experiment):
    search(experiment, 3)
    response = APIClient().get(path(experiment))
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"} and b"mnist" not in response.content


def test_it_answers_a_session_as_a_token(client, alice, experiment):
    search(experiment, 3)
    client.force_login(alice)
    response = client.get(path(experiment))
    assert response.status_code == 200 and response.json()["drawn"] == 3


def test_it_is_a_404_for_another_users_experiment_as_for_an_unknown_one(experiment, other_user, staff_api):
    search(experiment, 3)
    bob = client_for(other_user)
    theirs = bob.get(path(experiment), {"b.lr": "0..1"})
    unknown = bob.get("/api/experiments/999999/parcoords/", {"b.lr": "0..1"})
    assert theirs.status_code == unknown.status_code == 404 and b"mnist" not in theirs.content
    assert theirs.json()["detail"].replace(str(experiment.pk), "N") == unknown.json()["detail"].replace("999999", "N")
    # Even with a brush the experiment would refuse: nothing is read before access.
    assert bob.get(path(experiment), {"b.depth": "0..1"}).status_code == 404
    assert staff_api.get(path(experiment)).status_code == 200


def test_it_shows_an_experiment_shared_with_a_reader(experiment):
    search(experiment, 5)
    reader = make_user("carol")
    make_share(experiment, user=reader)
    response = client_for(reader).get(path(experiment), {"objective": "2", "b.@score": "0.4.."})
    assert response.status_code == 200
    assert response.json()["drawn"] == 5 and response.json()["inside"] == 3


@pytest.mark.parametrize("count", [3, 60])
def test_it_answers_in_a_fixed_number_of_queries(api, experiment, django_assert_num_queries, count):
    search(experiment, count)
    warm_up(api)
    # Queries: 1. the token, 2. the experiment, 3. its labels, 4. the counts (all, with a
    # value, inside the brush), 5. every job's value of the objective, 6. the drawn jobs' configs.
    with django_assert_num_queries(6):
        response = api.get(path(experiment), {"objective": "2", "b.lr": "..0.01", "b.@2": "..0.5"})
    assert response.status_code == 200 and response.json()["drawn"] == count


def test_it_is_in_the_schema_with_its_payload_and_the_brushs_keys(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/experiments/{eid}/parcoords/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"eid", "objective"}
    assert {"200", "400", "401", "403", "404", "503"} <= set(operation["responses"])
    for key in ("b.lr=0.0001..0.01", "b.optimizer=in:adam,sgd", "b.@score=0.8..", f"up to {brushes.MAX_BRUSHES} query keys"):
        assert key in operation["description"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    out = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(out["properties"]) == {
        "objective", "objectives", "axes", "jobs", "drawn", "sampled", "best", "total", "with_value", "inside",
        "brush", "note", "limits",
    }
    assert set(out["required"]) == set(out["properties"])
    axis = schema["components"]["schemas"]["ParcoordsAxisOut"]
    assert set(axis["required"]) == {"key", "name", "kind", "log"}
    assert {"min", "max", "categories", "maximize"} <= set(axis["properties"])


def as_json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def test_it_answers_as_its_schema_says_with_every_kind_of_axis_and_condition(api, experiment):
    import jsonschema  # schemathesis's (requirements-dev.txt)

    search(experiment, 12)
    make_configured_jobs(experiment, [({"lr": 0.5}, 0.99, {2: 0.01})])  # lacks dropout: a null in its column
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    out = {"$ref": "#/components/schemas/ParcoordsOut", "components": as_json_schema(schema["components"])}
    body = api.get(path(experiment), {"objective": "2", "b.lr": "0.001..", "b.@score": "..0.9",
                                      "b.batch_size": "in:32,256"}).json()
    assert None in body["jobs"]["values"][1] and {"low", "categories"} <= {k for b in body["brush"] for k in b}
    jsonschema.validate(body, out)
    # And the check bites: a category's index must be a number.
    body["jobs"]["values"][2][0] = "32"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, out)
