"""The API tokens page (/tokens/): your own tokens, issuing one, revoking one."""

import re

import pytest
from django.test import Client

from tests.factories import make_token, make_user
from tracking import tokens as tokens_module
from tracking.models import ApiToken, hash_token_secret

pytestmark = pytest.mark.django_db

SECRET_PATTERN = re.compile(r"aup_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def api_status(secret):
    return Client().get("/api/experiments/", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def test_it_requires_a_login(client, alice):
    make_token(alice, "laptop")
    for method, path in [("get", "/tokens/"), ("post", "/tokens/"), ("get", "/tokens/1/revoke/"), ("post", "/tokens/1/revoke/")]:
        response = getattr(client, method)(path, {"name": "sneaky"} if method == "post" else None)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), path
    assert list(ApiToken.objects.values_list("name", "revoked")) == [("laptop", None)]


def test_it_lists_only_your_own_tokens_newest_first_and_never_a_secret(signed_in, alice):
    _, old_secret = make_token(alice, "old laptop")
    _, new_secret = make_token(alice, "gpu-box-1")
    revoked, _ = make_token(alice, "retired box")
    revoked.revoke()
    _, bobs_secret = make_token(make_user("bob"), "bobs-machine")

    response = signed_in.get("/tokens/")

    html = response.content.decode()
    assert response.status_code == 200
    names = re.findall(r'<tr id="token-\d+">\s*<td>([^<]+)</td>', html)
    assert names == ["retired box", "gpu-box-1", "old laptop"]
    assert "bobs-machine" not in html
    assert not SECRET_PATTERN.search(html)
    for secret in (old_secret, new_secret, bobs_secret):
        assert hash_token_secret(secret) not in html
    assert html.count(">Revoke<") == 2  # not the revoked one
    assert "never" in html  # last used


def test_it_issues_a_token_and_shows_its_secret_once_with_the_snippet(signed_in, alice):
    response = signed_in.post("/tokens/", {"name": "  gpu-box-1  "})

    assert response.status_code == 201
    html = response.content.decode()
    [secret] = set(SECRET_PATTERN.findall(html))
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.secret_hash) == (alice, "gpu-box-1", hash_token_secret(secret))
    assert f"<code>export AUPSITE_TOKEN={secret}</code>" in html
    assert 'connector = RestConnector("http://testserver")' in html
    assert "python3 examples/remote_executor.py --url http://testserver --user alice" in html
    # The secret works, and the page never shows it again.
    assert api_status(secret) == 200
    assert secret not in signed_in.get("/tokens/").content.decode()


@pytest.mark.parametrize(
    "name, error",
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
        ("bad\x00name", "Null characters are not allowed."),
    ],
)
def test_it_refuses_a_bad_name_with_a_form_error_and_issues_nothing(signed_in, name, error):
    response = signed_in.post("/tokens/", {"name": name})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="name-errors" role="alert"' in html and error in html
    assert 'aria-invalid="true"' in html
    assert not SECRET_PATTERN.search(html)
    assert not ApiToken.objects.exists()


def test_it_refuses_a_change_without_the_csrf_token(alice):
    token, secret = make_token(alice, "laptop")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.post("/tokens/", {"name": "new"}).status_code == 403
    assert browser.post(f"/tokens/{token.pk}/revoke/").status_code == 403

    assert list(ApiToken.objects.values_list("name", "revoked")) == [("laptop", None)]
    assert api_status(secret) == 200


def test_it_revokes_a_token_after_a_confirmation(signed_in, alice):
    token, secret = make_token(alice, "gpu-box-1")

    confirm = signed_in.get(f"/tokens/{token.pk}/revoke/")
    assert confirm.status_code == 200
    assert "gpu-box-1" in confirm.content.decode() and 'method="post"' in confirm.content.decode()
    token.refresh_from_db()
    assert token.revoked is None  # a GET changes nothing

    response = signed_in.post(f"/tokens/{token.pk}/revoke/", follow=True)

    assert response.redirect_chain == [("/tokens/", 302)]
    assert "Token “gpu-box-1” is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked is not None
    assert api_status(secret) == 401
    # Again: harmless, and the first time is kept.
    first = token.revoked
    again = signed_in.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert "was already revoked" in again.content.decode()
    token.refresh_from_db()
    assert token.revoked == first


@pytest.mark.parametrize("staff", [False, True])
def test_it_answers_someone_elses_token_as_missing(client, staff):
    bob = make_user("bob")
    token, secret = make_token(bob, "bobs-machine")
    client.force_login(make_user("carol", is_staff=staff))  # staff revoke others' in the admin

    for method in ("get", "post"):
        assert getattr(client, method)(f"/tokens/{token.pk}/revoke/").status_code == 404
        assert getattr(client, method)("/tokens/999999/revoke/").status_code == 404

    token.refresh_from_db()
    assert token.revoked is None
    assert api_status(secret) == 200


def test_it_pages_the_list(signed_in, alice, monkeypatch):
    monkeypatch.setattr(tokens_module, "TOKENS_PER_PAGE", 3)
    for index in range(5):
        make_token(alice, f"box-{index}")

    first = signed_in.get("/tokens/").content.decode()
    second = signed_in.get("/tokens/?page=2").content.decode()

    assert re.findall(r'<tr id="token-\d+">\s*<td>([^<]+)</td>', first) == ["box-4", "box-3", "box-2"]
    assert re.findall(r'<tr id="token-\d+">\s*<td>([^<]+)</td>', second) == ["box-1", "box-0"]
    assert "5 in all" in first


def test_it_reads_the_same_number_of_queries_whatever_the_number_of_tokens(signed_in, alice, django_assert_num_queries):
    make_token(alice, "one")
    signed_in.get("/tokens/")  # the session's first read
    # The session, the user, the count of tokens, the page of tokens.
    with django_assert_num_queries(4):
        signed_in.get("/tokens/")
    for index in range(30):
        make_token(alice, f"box-{index}")
    with django_assert_num_queries(4):
        signed_in.get("/tokens/")


def test_it_links_the_page_from_the_user_menu(client, alice):
    client.force_login(alice)
    menu = client.get("/").content.decode().split('<details class="usermenu">', 1)[1].split("</details>", 1)[0]
    assert '<a href="/tokens/">API tokens</a>' in menu
    assert "/admin/" not in menu  # staff only
    assert 'action="/accounts/logout/"' in menu

    client.force_login(make_user("root", is_staff=True))
    html = client.get("/tokens/").content.decode()
    menu = html.split('<details class="usermenu">', 1)[1].split("</details>", 1)[0]
    assert '<a href="/tokens/" aria-current="page">API tokens</a>' in menu
    assert '<a href="/admin/">Admin</a>' in menu
    assert "<script" not in menu
