"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright's own browser download is not used (it cannot be fetched here); the browser
is /usr/bin/chromium, which `make test` installs when missing. A missing browser is a
failure, never a skip: these tests must run in CI.

Every page is served with the Content-Security-Policy that production will enforce
(no inline scripts or styles, no eval), added to each response by the test, and any
violation or script error fails the test.
"""

from pathlib import Path

import pytest

from tests.browser import CHROMIUM, chromium

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio event loop in this thread, and Django
    refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation).
    The tests' own ORM calls (building data, checking it) are plain synchronous code,
    so tests.browser.chromium lifts the guard while the browser lives: module scope,
    so the other test modules run with the guard on and without the loop. The test
    database is created first (django_db_setup), outside the loop.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` as root (it installs Debian's chromium) or apt-get install chromium")
    with chromium() as browser:
        yield browser


@pytest.fixture
def context_options():
    """Extra options of the page's browser context (Playwright's new_context): a test
    parametrises this to see the pages as another person's browser shows them, e.g.
    {"color_scheme": "dark"} or {"reduced_motion": "reduce"}."""
    return {}


@pytest.fixture
def page(browser, live_server, context_options):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url, **context_options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = []

    def with_csp(route):
        # A redirect goes back to the browser, which follows it (through this route
        # again): page.url is then the page's real address, as without the route.
        response = route.fetch(max_redirects=0)
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})

    page.route("**/*", with_csp)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.problems = problems
    # A 404 we asked for is the one expected console error; a test that asks for
    # another (a form refused with 400) adds it here.
    page.expected_problems = ["404 (Not Found)"]
    yield page
    # A poll may be in flight: let its route handler fail quietly as the page closes,
    # rather than surface in the next test.
    page.unroute_all(behavior="ignoreErrors")
    context.close()
    unexpected = [p for p in problems if not any(expected in p for expected in page.expected_problems)]
    assert unexpected == [], unexpected


@pytest.fixture
def login(page):
    from tests.factories import make_user

    def log_in(username="alice", **fields):
        user = make_user(username, **fields)
        user.set_password(PASSWORD)
        user.save()
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        return user

    return log_in
