"""The login page and the 404 page."""

import pytest

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_it_shows_the_login_page_without_inline_code(client):
    response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200 and 'name="username"' in html and "csrfmiddlewaretoken" in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_it_logs_in_and_out_with_csrf(client):
    user = make_user("alice")
    user.set_password("a long enough password")
    user.save()
    response = client.post("/accounts/login/", {"username": "alice", "password": "a long enough password"})
    assert response.status_code == 302 and response.url == "/"
    page = client.get("/").content.decode()
    assert 'action="/accounts/logout/"' in page and "csrfmiddlewaretoken" in page
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_it_answers_unknown_pages_with_its_own_404(client):
    client.force_login(make_user("alice"))
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and b"Back to your experiments" in response.content


def test_login_and_404_pages_take_a_fixed_number_of_queries(client, django_assert_num_queries):
    # Queries: none; an anonymous visitor has no session yet.
    with django_assert_num_queries(0):
        assert client.get("/accounts/login/").status_code == 200
    client.force_login(make_user("alice"))
    # Queries: session, user, the experiment (not visible: none).
    with django_assert_num_queries(3):
        assert client.get("/experiments/123456/").status_code == 404
