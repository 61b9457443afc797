"""Safe defaults: the Content Security Policy (header, and the admin working under it in
a real browser) and the login rate limit on the site's and the admin's login pages."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.contrib.auth.models import Group
from django.test import Client, override_settings
from django.urls import reverse

from aupsite.security import CONTENT_SECURITY_POLICY
from tests.browser import chromium, logged_in_page
from tests.factories import make_experiment, make_recorded_job, make_resource, make_share, make_user
from tracking.models import Experiment, Resource

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough passphrase"


@pytest.fixture
def alice(db):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def root(db):
    user = make_user("root", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


# -- Content Security Policy -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/static/admin/css/base.css", "/no/such/page/"])
def test_it_sends_the_policy_on_every_response(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_it_leaves_djangos_debug_error_pages_alone_when_debug_is_on(client):
    with override_settings(DEBUG=True):
        assert "Content-Security-Policy" not in client.get("/no/such/page/").headers
        assert client.get("/accounts/login/").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_it_sends_the_policy_on_pages_of_logged_in_users(client, root):
    client.force_login(root)
    response = client.get("/admin/tracking/resource/")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"


def admin_urls(experiment, job, resource, user):
    return [
        "/admin/",
        "/admin/tracking/",
        "/admin/tracking/resource/",
        "/admin/tracking/resource/?status__exact=busy&type=cpu",
        f"/admin/tracking/resource/{resource.pk}/change/",
        "/admin/tracking/resource/add/",
        "/admin/tracking/resource/add-bulk/",
        "/admin/tracking/experiment/",
        "/admin/tracking/experiment/?q=secret",
        f"/admin/tracking/experiment/{experiment.pk}/change/",
        f"/admin/tracking/experiment/{experiment.pk}/delete/",
        f"/admin/tracking/experiment/{experiment.pk}/history/",
        "/admin/tracking/job/",
        f"/admin/tracking/job/?experiment__id__exact={experiment.pk}",
        f"/admin/tracking/job/{job.pk}/change/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{user.pk}/change/",
        f"/admin/auth/user/{user.pk}/password/",
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        "/admin/password_change/",
    ]


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_admin_in_chromium_without_a_single_policy_violation(live_server):
    root = make_user("root", is_staff=True, is_superuser=True)
    alice = make_user("alice")
    group = Group.objects.create(name="team")
    cpu = make_resource("cpu")
    experiment = make_experiment(alice, "secret search", config={"name": "secret search"})
    job = make_recorded_job(experiment, cpu, steps=3)
    make_share(experiment, group=group)

    with chromium() as browser:
        page = logged_in_page(browser, live_server.url, root)
        violations = {}
        for url in admin_urls(experiment, job, cpu, alice):
            response = page.goto(live_server.url + url)
            assert response.status == 200, url
            page.wait_for_load_state("load")
            found = page.csp_violations()
            if found:
                violations[url] = found

        # The scripts at work, not only loaded: the calendar of a date field, the
        # theme toggle, the autocomplete of a share's user, a new inline row.
        page.goto(f"{live_server.url}/admin/auth/user/{alice.pk}/change/")
        page.click("#calendarlink0")
        assert page.is_visible("#calendarbox0")
        page.click("button.theme-toggle")
        page.goto(f"{live_server.url}/admin/tracking/experiment/{experiment.pk}/change/")
        page.click(".add-row a")
        page.click("#shares-1 .select2-selection")
        page.fill(".select2-search__field", "ali")
        page.wait_for_selector(".select2-results__option >> text=alice")
        # A related-object popup: add a user from the experiment's owner field. The
        # popup's answer (popup_response.html) is a script: if the policy blocked it,
        # the popup would stay open and the field would not get the new user.
        page.goto(f"{live_server.url}/admin/tracking/experiment/{experiment.pk}/change/")
        with page.expect_popup() as popup_info:
            page.click("#add_id_owner")
        popup = popup_info.value
        popup.wait_for_load_state("load")
        popup.fill("#id_username", "dave")
        popup.fill("#id_password1", "a long enough passphrase")
        popup.fill("#id_password2", "a long enough passphrase")
        with popup.expect_event("close"):
            popup.click("input[name=_save]")
        page.wait_for_selector("#id_owner option:checked >> text=dave", state="attached")
        # An action through its confirmation page: free a resource a running job holds.
        page.goto(f"{live_server.url}/admin/tracking/resource/")
        page.check(f"input[name=_selected_action][value='{cpu.pk}']")
        page.select_option("select[name=action]", "free_resources")
        page.click("button[name=index]")
        page.wait_for_selector("text=still held by a running job")
        found = page.csp_violations()
        page.click("button[value=all]")
        page.wait_for_selector("text=Freed 1 resource(s).")
        found += page.csp_violations()
        if found:
            violations["interactions"] = found

        # The detector itself: a script the page adds inline is caught.
        page.evaluate("document.body.appendChild(document.createElement('script')).textContent = '1';")
        caught = page.csp_violations()

    assert violations == {}
    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert any("script-src" in violation for violation in caught), caught


@pytest.mark.django_db(transaction=True)
def test_it_runs_the_controls_and_login_pages_in_chromium_without_violations(live_server):
    alice = make_user("alice")
    experiment = make_experiment(alice, "mine", status="FINISHED")
    with chromium() as browser:
        page = logged_in_page(browser, live_server.url, alice)
        for url in [f"/experiments/{experiment.pk}/{name}/" for name in ("stop", "restart", "delete", "share")]:
            assert page.goto(live_server.url + url).status == 200, url
            assert page.csp_violations() == [], url
        page.fill("input[name=username]", "nobody")
        page.click("text=Share read-only")
        page.wait_for_selector("text=There is no user named 'nobody'.")
        assert page.csp_violations() == []
        anonymous = browser.new_context().new_page()
        anonymous.goto(live_server.url + "/accounts/login/")
        anonymous.fill("input[name=username]", "alice")
        anonymous.fill("input[name=password]", "wrong")
        anonymous.click("button[type=submit]")
        anonymous.wait_for_selector("text=Please enter a correct username and password")
    assert Experiment.objects.filter(pk=experiment.pk).exists()


# -- login rate limit ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def log_in(client, url, username, password, address="203.0.113.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_it_refuses_a_sixth_attempt_even_with_the_right_password(client, alice, root, url):
    username = "root" if url.startswith("/admin/") else "alice"
    for _ in range(5):
        response = log_in(client, url, username, "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    response = log_in(client, url, username, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed logins for this user from your address. Try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_counts_per_user_name_and_address(client, alice):
    for _ in range(5):
        log_in(client, "/accounts/login/", "alice", "wrong")
    # The same name from another address, and the name in other letter case from the first.
    response = log_in(client, "/accounts/login/", "alice", PASSWORD, address="198.51.100.1")
    assert response.status_code == 302
    client.logout()
    assert "Too many failed logins" in log_in(client, "/accounts/login/", "ALICE", "x").content.decode()
    # Someone else from the first address is not affected.
    response = log_in(client, "/accounts/login/", "bob", "wrong")
    assert "correct username and password" in response.content.decode()


def test_it_forgets_failures_after_a_successful_login(client, alice):
    for _ in range(4):
        log_in(client, "/accounts/login/", "alice", "wrong")
    assert log_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        log_in(client, "/accounts/login/", "alice", "wrong")
    assert log_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302


def test_it_lets_the_user_in_again_when_the_window_has_passed(client, alice):
    started = timezone.now()
    for _ in range(5):
        log_in(client, "/accounts/login/", "alice", "wrong")
    assert "Too many failed logins" in log_in(client, "/accounts/login/", "alice", PASSWORD).content.decode()
    # The window runs from the first failure and later ones do not extend it: the
    # entry expires 15 minutes after it began.
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM aupsite_cache")
        [(expires,)] = cursor.fetchall()
    expires = expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires))
    expires = expires if expires.tzinfo else expires.replace(tzinfo=dt_timezone.utc)
    assert started + timedelta(minutes=15) - timedelta(seconds=2) <= expires <= started + timedelta(minutes=15, seconds=1)
    # Fifteen minutes later, as the cache sees it.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE aupsite_cache SET expires = %s", [started - timedelta(seconds=1)])
    assert log_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 302


@override_settings(LOGIN_RATE_LIMIT_TRUST_X_FORWARDED_FOR=True)
def test_it_counts_the_address_the_proxy_saw_not_the_one_the_client_claims(client, alice):
    for number in range(5):
        # A client forging the first X-Forwarded-For entry each time; the proxy
        # appends the real address last.
        client.post(
            "/accounts/login/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{number}, 203.0.113.7",
        )
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7",
    )
    assert "Too many failed logins" in response.content.decode()


def test_it_keeps_csrf_on_the_login_forms(alice):
    client = Client(enforce_csrf_checks=True)
    assert log_in(client, "/accounts/login/", "alice", PASSWORD).status_code == 403
    assert log_in(client, "/admin/login/", "alice", PASSWORD).status_code == 403


def test_it_names_the_site_login_as_the_login_url():
    assert reverse("login") == "/accounts/login/"


def test_it_limits_the_async_login_path_too(alice):
    from asgiref.sync import async_to_sync
    from django.contrib.auth import aauthenticate
    from django.test import RequestFactory

    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        assert async_to_sync(aauthenticate)(request, username="alice", password="wrong") is None
    assert async_to_sync(aauthenticate)(request, username="alice", password=PASSWORD) is None
    assert request.login_rate_limited is True
