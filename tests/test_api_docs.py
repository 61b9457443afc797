"""The API's schema and its documentation page (Swagger UI, from our own static files)."""

import json

import pytest
from rest_framework.test import APIClient

from tests.browser import chromium, logged_in_page
from tests.factories import make_resource, make_user
from tracking.models import Experiment

SCHEMA_PATH = "/api/schema/"


@pytest.mark.django_db
def test_it_serves_an_openapi_3_schema_to_a_token(api):
    response = api.get(SCHEMA_PATH, HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/jobs/{jid}/end/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["apiToken"]["description"],
    }


@pytest.mark.django_db
def test_it_documents_every_error_of_every_operation(api):
    schema = json.loads(api.get(SCHEMA_PATH, HTTP_ACCEPT="application/vnd.oai.openapi+json").content)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "503"} <= codes, (method, path)
            if method != "get":
                assert {"400", "422"} <= codes, (method, path)
                assert "Idempotency-Key" in [parameter["name"] for parameter in operation.get("parameters", [])]
            if "{" in path:
                assert "404" in codes, (method, path)


@pytest.mark.django_db
def test_it_keeps_the_schema_and_the_docs_from_anonymous_users():
    assert APIClient().get(SCHEMA_PATH).status_code == 401
    response = APIClient().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_docs_page_in_chromium_under_the_policy_and_tries_the_api(live_server):
    alice = make_user("alice")
    make_resource("gpu")
    with chromium() as browser:
        page = logged_in_page(browser, live_server.url, alice)
        response = page.goto(live_server.url + "/api/docs/")
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_selector("#operations-resources-resources_types_retrieve")

        # A read with the session: GET /api/resources/types/.
        page.click("#operations-resources-resources_types_retrieve .opblock-summary-control")
        page.click("#operations-resources-resources_types_retrieve .try-out__btn")
        page.click("#operations-resources-resources_types_retrieve .execute")
        answer = "#operations-resources-resources_types_retrieve .live-responses-table"
        page.wait_for_selector(f"{answer} tbody .response-col_status >> text=200")
        assert '"gpu"' in page.inner_text(f"{answer} tbody .response-col_description pre")

        # A write: the page sends the CSRF token the session needs.
        operation = "#operations-experiments-experiments_create"
        page.click(f"{operation} .opblock-summary-control")
        page.click(f"{operation} .try-out__btn")
        page.fill(f"{operation} textarea.body-param__text", json.dumps({"name": "from the docs"}))
        page.click(f"{operation} .execute")
        page.wait_for_selector(f"{operation} .live-responses-table tbody .response-col_status >> text=201")

        violations = page.csp_violations()

    assert violations == []
    assert Experiment.objects.get().name == "from the docs"
