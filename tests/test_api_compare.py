"""The comparisons in the API (issue 13, item 5): GET /api/experiments/<eid>/jobs/compare/
and GET /api/experiments/compare/, their errors, access and query counts."""

import json

import pytest

from tests.factories import make_configured_experiment, make_jobs, make_share, make_user
from tracking.models import Job

pytestmark = pytest.mark.django_db

PARAMETERS = [{"name": "lr", "range": [0.001, 0.1], "type": "float"}]


def warm_up(client):
    # A token's first request also records its use (one UPDATE a minute): not counted.
    client.get("/api/resources/types/")


def jobs_path(experiment, ids):
    return f"/api/experiments/{experiment.pk}/jobs/compare/?jobs={','.join(map(str, ids))}"


@pytest.fixture
def experiment(user):
    return make_configured_experiment(
        user, name="mnist", parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )


def test_it_compares_jobs(api, experiment):
    jobs = make_jobs(experiment, 3, steps=4, labels=2)
    response = api.get(jobs_path(experiment, [jobs[2].pk, jobs[0].pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["eid"] == experiment.pk and body["maximize"] is True
    assert [job["jid"] for job in body["jobs"]] == [jobs[0].pk, jobs[2].pk]
    first = body["jobs"][0]
    assert first["number"] == jobs[0].number and first["status"] == "FINISHED" and first["attempts_total"] == 1
    assert first["config"] == {"lr": 0.01, "optimizer": "sgd"} and first["final_values"] == [0.75, 1.5]
    assert body["labels"] == ["accuracy", "loss"]
    assert body["config_diff"] == [
        {"name": "lr", "values": [0.01, 0.03], "present": [True, True], "differs": True},
        {"name": "optimizer", "values": ["sgd", "sgd"], "present": [True, True], "differs": False},
    ]
    assert [(s["series"], s["label_order"]) for s in body["series"]] == [("score", None), ("accuracy", 1), ("loss", 2)]
    loss = body["series"][2]["curves"]
    assert [curve["jid"] for curve in loss] == [jobs[0].pk, jobs[2].pk]
    assert loss[0]["steps"] == [0, 1, 2, 3] and loss[0]["values"] == [0.0, 0.5, 1.0, 1.5]


@pytest.mark.parametrize(
    "query, field",
    [("", "jobs"), ("?jobs=1", "jobs"), ("?jobs=1,2,3,4,5,6,7", "jobs"), ("?jobs=1,a", "jobs"), ("?jobs=1,%00", "jobs")],
)
def test_it_refuses_bad_job_ids_with_a_400(api, experiment, query, field):
    response = api.get(f"/api/experiments/{experiment.pk}/jobs/compare/{query}")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}


def test_it_answers_a_job_it_cannot_compare_as_an_unknown_one(api, user, experiment):
    mine = make_jobs(experiment, 1)[0]
    elsewhere = make_jobs(make_configured_experiment(user, name="other"), 1)[0]
    bobs = make_jobs(make_configured_experiment(make_user("bob"), name="bob's"), 1)[0]
    answers = []
    for stranger in (elsewhere.pk, bobs.pk, 987654):
        response = api.get(jobs_path(experiment, [mine.pk, stranger]))
        assert response.status_code == 404
        answers.append(response.json()["detail"].replace(str(stranger), "N"))
    assert answers[0] == answers[1] == answers[2]


def test_it_is_a_404_for_another_users_experiment_and_shows_a_shared_one(api, other_api, experiment, other_user):
    jobs = make_jobs(experiment, 2)
    response = other_api.get(jobs_path(experiment, [job.pk for job in jobs]))
    assert response.status_code == 404 and "mnist" not in response.content.decode()
    make_share(experiment, user=other_user)
    assert other_api.get(jobs_path(experiment, [job.pk for job in jobs])).status_code == 200


@pytest.mark.parametrize("count", [2, 6])
def test_it_compares_jobs_in_a_fixed_number_of_queries(api, experiment, django_assert_num_queries, count):
    warm_up(api)
    jobs = make_jobs(experiment, count, steps=count * 5, labels=2)
    # 1. the token and its user, 2. the experiment, 3. the jobs, 4. the labels, 5. the
    # final labeled values, 6-7. the score curves (longest, rows), 8-9. the labeled curves.
    with django_assert_num_queries(9):
        assert api.get(jobs_path(experiment, [job.pk for job in jobs])).status_code == 200


def test_it_compares_experiments_each_in_its_own_direction(api, user):
    high = make_configured_experiment(user, name="high", proposer="random", parameter_config=PARAMETERS)
    low = make_configured_experiment(user, name="low", target="min", proposer="random")
    make_jobs(high, 4)
    make_jobs(low, 4)
    response = api.get(f"/api/experiments/compare/?ids={high.pk},{low.pk}")
    assert response.status_code == 200
    body = response.json()
    by_name = {e["name"]: e for e in body["experiments"]}
    assert [e["eid"] for e in body["experiments"]] == [high.pk, low.pk]
    # make_jobs scores 0.25, 0.5, 0.75, 1.0: max improves at every job, min only at the first.
    assert by_name["high"]["by_job"] == {"x": [1, 2, 3, 4], "best": [0.25, 0.5, 0.75, 1.0]}
    assert by_name["low"]["by_job"] == {"x": [1, 4], "best": [0.25, 0.25]}
    assert by_name["high"]["best_job"]["jid"] == Job.objects.get(experiment=high, number=4).pk
    assert by_name["low"]["best_job"]["score"] == 0.25 and by_name["low"]["maximize"] is False
    diff = {row["name"]: row for row in body["config_diff"]}
    assert diff["target"]["differs"] and not diff["proposer"]["differs"]
    assert diff["parameter lr"]["present"] == [True, False]
    assert json.dumps(body)  # plain JSON throughout


def test_it_refuses_bad_experiment_ids(api, other_api, user):
    mine = [make_configured_experiment(user, name=f"e{index}") for index in range(6)]
    ids = ",".join(str(e.pk) for e in mine)
    assert api.get(f"/api/experiments/compare/?ids={ids}").status_code == 400
    assert api.get(f"/api/experiments/compare/?ids={mine[0].pk}").status_code == 400
    assert api.get("/api/experiments/compare/?ids=x,y").status_code == 400
    # Another user's experiments are unknown to bob.
    response = other_api.get(f"/api/experiments/compare/?ids={mine[0].pk},{mine[1].pk}")
    assert response.status_code == 404 and "e0" not in response.content.decode()


@pytest.mark.parametrize("count", [2, 30])
def test_it_compares_experiments_in_a_fixed_number_of_queries(api, user, django_assert_num_queries, count):
    warm_up(api)
    experiments = [make_configured_experiment(user, name=f"e{index}") for index in range(3)]
    for experiment in experiments:
        make_jobs(experiment, count)
    # 1. the token and its user, 2. the experiments, 3. their best jobs, 4. every job's (number, score, end).
    with django_assert_num_queries(4):
        assert api.get("/api/experiments/compare/?ids=" + ",".join(str(e.pk) for e in experiments)).status_code == 200


def test_it_documents_both_operations(api):
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    for path, parameter in (("/api/experiments/{eid}/jobs/compare/", "jobs"), ("/api/experiments/compare/", "ids")):
        operation = schema["paths"][path]["get"]
        assert operation["tags"] == ["compare"]
        assert {"200", "400", "404"} <= set(operation["responses"])
        assert parameter in [p["name"] for p in operation["parameters"]]
