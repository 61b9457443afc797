"""Who gets in: API tokens, sessions with CSRF, and nothing for anyone else."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import make_token, make_user
from tracking.models import ApiToken, Experiment

pytestmark = pytest.mark.django_db


def test_it_answers_an_anonymous_request_with_401():
    response = APIClient().get("/api/experiments/ids/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided.", "errors": {}}


@pytest.mark.parametrize("path", ["/api/experiments/ids/", "/api/nothing/here/", "/api/schema/", "/api/experiments/1/"])
def test_it_tells_an_anonymous_client_nothing_about_any_path(path):
    # Not a redirect to the login page (LoginRequiredMiddleware's answer for pages).
    assert APIClient().get(path).status_code == 401


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_it_authenticates_a_token_with_either_keyword(user, keyword):
    _, secret = make_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")

    assert client.get("/api/experiments/ids/").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer aup_wrong", "Bearer", "Bearer two words", "Token \u00e9t\u00e9"],
    ids=["unknown", "missing", "two", "not-ascii"],
)
def test_it_refuses_a_bad_token(user, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))

    response = client.get("/api/experiments/ids/")

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid token")


def test_it_refuses_a_revoked_token(user):
    token, secret = make_token(user)
    token.revoke()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.get("/api/experiments/ids/").status_code == 401


def test_it_refuses_the_token_of_an_inactive_user():
    _, secret = make_token(make_user("gone", is_active=False))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.get("/api/experiments/ids/").status_code == 401


def test_it_stores_only_a_hash_of_the_secret(user):
    token, secret = make_token(user)

    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in str(row)
    assert len(row["secret_hash"]) == 64
    assert secret.startswith(row["prefix"])


def test_it_records_when_a_token_was_last_used_once_a_minute(user, django_assert_num_queries):
    token, secret = make_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    before = timezone.now()
    client.get("/api/resources/types/")
    token.refresh_from_db()
    assert token.last_used >= before
    first_use = token.last_used

    # 1. the token and its user, 2. the resource types: no UPDATE within the minute.
    with django_assert_num_queries(2):
        client.get("/api/resources/types/")
    token.refresh_from_db()
    assert token.last_used == first_use


def test_it_lets_a_session_read_without_csrf_but_not_write(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.get("/api/experiments/ids/").status_code == 200
    response = client.post("/api/experiments/", {"name": "toy"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Experiment.objects.exists()


def test_it_lets_a_session_write_with_its_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/api/experiments/ids/")  # any response; the CSRF cookie comes from the login page in life
    client.cookies.load({"csrftoken": "a" * 32})

    response = client.post("/api/experiments/", {"name": "toy"}, format="json", HTTP_X_CSRFTOKEN="a" * 32)

    assert response.status_code == 201
    assert Experiment.objects.get().owner == user


def test_it_needs_no_csrf_token_with_an_api_token(user):
    _, secret = make_token(user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.post("/api/experiments/", {"name": "toy"}, format="json").status_code == 201


def test_it_lets_only_a_session_manage_tokens(user, api):
    # A leaked token must not be able to mint more tokens.
    response = api.post("/api/tokens/", {"name": "more"}, format="json")
    assert response.status_code == 403
    assert api.get("/api/tokens/").status_code == 403
    assert ApiToken.objects.filter(user=user).count() == 1


def test_it_issues_a_token_to_a_session_and_shows_the_secret_once(user):
    client = APIClient()
    client.force_login(user)

    issued = client.post("/api/tokens/", {"name": "gpu box"}, format="json").json()

    assert issued["name"] == "gpu box"
    assert issued["secret"].startswith(issued["prefix"])
    listed = client.get("/api/tokens/").json()["tokens"]
    assert [token["name"] for token in listed] == ["gpu box"]
    assert "secret" not in listed[0]
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued['secret']}")
    assert token_client.get("/api/resources/types/").status_code == 200


def test_it_lets_a_session_revoke_its_own_tokens_only(user, other_user):
    mine, secret = make_token(user)
    theirs, _ = make_token(other_user)
    client = APIClient()
    client.force_login(user)

    assert client.post(f"/api/tokens/{theirs.pk}/revoke/").status_code == 404
    response = client.post(f"/api/tokens/{mine.pk}/revoke/")

    assert response.status_code == 200
    assert response.json()["revoked"] is not None
    theirs.refresh_from_db()
    assert theirs.revoked is None
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert token_client.get("/api/resources/types/").status_code == 401
