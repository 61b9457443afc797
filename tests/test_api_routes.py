"""The API's routing: each URL hands each of its methods to one operation (tracking.api.views.route)."""

import json

import pytest

from tests.factories import make_experiment, make_resource
from tracking.api import views
from tracking.models import Experiment, Resource

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path, method, allowed",
    [
        ("/api/experiments/", "put", {"GET", "POST", "OPTIONS"}),
        ("/api/experiments/", "head", {"GET", "POST", "OPTIONS"}),
        ("/api/resources/{rid}/", "post", {"GET", "PATCH", "DELETE", "OPTIONS"}),
        ("/api/experiments/{eid}/restart/", "get", {"POST", "OPTIONS"}),
    ],
)
def test_it_answers_a_method_without_an_operation_with_405_and_changes_nothing(api, user, path, method, allowed):
    rid = make_resource("cpu").pk
    eid = make_experiment(user).pk

    response = getattr(api, method)(path.format(eid=eid, rid=rid))

    assert response.status_code == 405
    assert set(response["Allow"].split(", ")) == allowed
    if method != "head":
        assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.', "errors": {}}
    assert list(Experiment.objects.values_list("pk", flat=True)) == [eid]
    assert Resource.objects.count() == 1


def test_it_hands_each_method_of_a_url_to_its_own_operation(staff_api):
    created = staff_api.post("/api/resources/", {"type": "gpu", "name": "g1"}, format="json")
    rid = created.json()["rid"]

    read = staff_api.get(f"/api/resources/{rid}/")
    changed = staff_api.patch(f"/api/resources/{rid}/", {"in_service": False}, format="json")
    removed = staff_api.delete(f"/api/resources/{rid}/")

    assert [created.status_code, read.status_code, changed.status_code, removed.status_code] == [201, 200, 200, 204]
    assert read.json()["name"] == "g1" and changed.json()["in_service"] is False
    assert not Resource.objects.exists()


def test_it_names_a_url_in_an_options_answer_by_its_view_not_by_an_operation(api):
    response = api.options("/api/experiments/")

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Experiments", "")


def test_it_documents_each_method_with_its_operations_docstring(api):
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    resource = schema["paths"]["/api/resources/{rid}/"]

    assert resource["get"]["summary"] == views.get_resource.__doc__
    assert resource["patch"]["summary"] == views.change_resource.__doc__.splitlines()[0]
    assert resource["patch"]["description"] == "in_service false takes it out of service: executors are never given it."
    assert {resource[method]["tags"][0] for method in ("get", "patch", "delete")} == {"resources"}
    assert "description" not in resource["get"]
