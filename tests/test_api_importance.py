"""The API's hyperparameter importance and labels' directions (issue 13)."""

import pytest
from django.core.cache import cache

from tests.api_support import client_for
from tests.factories import make_importance_experiment, make_share, make_user
from tracking import importance
from tracking.models import ResultLabel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


@pytest.fixture
def experiment(user):
    return make_importance_experiment(user)


def path(experiment, what="importance/"):
    return f"/api/experiments/{experiment.pk}/{what}"


def test_it_ranks_the_score_by_default_and_a_label_on_request(api, experiment):
    answer = api.get(path(experiment)).json()
    assert answer["objective"] == {"key": "score", "name": "score", "label_order": None, "direction": "max", "declared": True}
    assert answer["method"] == "PED-ANOVA" and answer["enough"] is True and answer["jobs_used"] == 80
    assert answer["importances"][0]["parameter"] == "lr"
    assert set(answer["importances"][0]) == {"parameter", "kind", "log", "importance", "share"}
    assert abs(sum(row["share"] for row in answer["importances"]) - 1) < 1e-9

    loss = api.get(path(experiment), {"label": "1"}).json()
    assert loss["objective"] == {"key": "1", "name": "loss", "label_order": 1, "direction": "min", "declared": False}
    assert loss["importances"][0]["parameter"] == "dropout"


def test_it_follows_a_direction_set_through_the_api(api, experiment):
    assert api.get(path(experiment), {"label": "2"}).json()["importances"][0]["parameter"] == "lr"
    response = api.patch(path(experiment, "labels/2/"), {"direction": "min"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"order": 2, "name": "margin", "direction": "min", "declared": True}
    answer = api.get(path(experiment), {"label": "2"}).json()
    assert answer["objective"]["direction"] == "min" and answer["importances"][0]["parameter"] == "dropout"
    # null: back to the default rule.
    response = api.patch(path(experiment, "labels/2/"), {"direction": None}, format="json")
    assert response.json() == {"order": 2, "name": "margin", "direction": "max", "declared": False}
    assert ResultLabel.objects.get(experiment=experiment, label_order=2).direction is None


def test_it_lists_labels_with_their_directions(api, experiment):
    ResultLabel.objects.filter(experiment=experiment, label_order=2).update(direction="min")
    assert api.get(path(experiment, "labels/")).json()["labels"] == [
        {"order": 1, "name": "loss", "direction": "min", "declared": False},
        {"order": 2, "name": "margin", "direction": "min", "declared": True},
    ]


def test_it_says_when_there_are_not_enough_jobs(api, user):
    small = make_importance_experiment(user, jobs=importance.MIN_JOBS - 1, name="small")
    answer = api.get(path(small)).json()
    assert answer["enough"] is False and answer["importances"] == []
    assert f"at least {importance.MIN_JOBS}" in answer["message"] and answer["min_jobs"] == importance.MIN_JOBS


@pytest.mark.parametrize("label", ["0", "x", "1.5", "-1", "3", "9" * 12, "\x00"])
def test_it_refuses_a_malformed_or_unknown_label_with_400(api, experiment, label):
    response = api.get(path(experiment), {"label": label})
    assert response.status_code == 400
    assert "label" in response.json()["errors"]


@pytest.mark.parametrize("body", [{"direction": "up"}, {"direction": 1}, {}, {"direction": "MAX"}])
def test_it_refuses_a_bad_direction_and_writes_nothing(api, experiment, body):
    response = api.patch(path(experiment, "labels/1/"), body, format="json")
    assert response.status_code == 400 and "direction" in response.json()["errors"]
    assert ResultLabel.objects.get(experiment=experiment, label_order=1).direction is None


def test_it_is_a_404_for_an_unknown_label(api, experiment):
    assert api.patch(path(experiment, "labels/7/"), {"direction": "max"}, format="json").status_code == 404


def test_it_keeps_the_access_rules(experiment, other_user, staff_api):
    reader = make_user("carol")
    make_share(experiment, user=reader)
    reader_api, other_api = client_for(reader), client_for(other_user)
    assert reader_api.get(path(experiment)).status_code == 200
    assert reader_api.patch(path(experiment, "labels/1/"), {"direction": "max"}, format="json").status_code == 403
    assert other_api.get(path(experiment)).status_code == 404
    assert other_api.patch(path(experiment, "labels/1/"), {"direction": "max"}, format="json").status_code == 404
    assert ResultLabel.objects.get(experiment=experiment, label_order=1).direction is None
    assert staff_api.patch(path(experiment, "labels/1/"), {"direction": "max"}, format="json").status_code == 200
    assert staff_api.get("/api/experiments/999999/importance/").status_code == 404


def test_it_answers_from_the_cache_in_a_fixed_number_of_queries(api, user, django_assert_num_queries):
    for jobs in (25, 250):
        experiment = make_importance_experiment(user, jobs=jobs, name=f"search {jobs}")
        api.get(path(experiment), {"label": "1"})
        # 1. the token, 2. the experiment, 3. the label, 4. the finished jobs' version, 5. the cache.
        with django_assert_num_queries(5):
            assert api.get(path(experiment), {"label": "1"}).json()["jobs_used"] == jobs


def test_it_is_in_the_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "label" in {p["name"] for p in schema["paths"]["/api/experiments/{eid}/importance/"]["get"]["parameters"]}
    assert "patch" in schema["paths"]["/api/experiments/{eid}/labels/{order}/"]
