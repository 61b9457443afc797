"""A real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for the
page tests, with every Content Security Policy violation of a page collected."""

import os
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.test import Client

CHROMIUM = os.environ.get("AUPSITE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Runs before any script of the page (injected by the browser, so the policy does not
# apply to it): records each violation the page reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} `
    + `at ${event.sourceFile || document.location.pathname}:${event.lineNumber}`);
});
"""


@contextmanager
def chromium():
    """A Playwright browser; Playwright's own browser download is not used."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between page loads are synchronous and safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # While the loop runs, this thread counts as async to Django, whose
                # connections then live in a context variable rather than the thread:
                # the ORM calls made meanwhile (logging a user in, the tests' own)
                # opened connections of their own, which nothing else closes and which
                # would keep the test database from being dropped at the end.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def logged_in_page(browser, live_server_url, user):
    """A page whose browser context carries a session of `user`, recording violations
    (page.csp_violations(): the violation events and the console's CSP errors)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server_url}]
    )
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: console.append(f"page error: {error}"))

    def csp_violations():
        events = page.evaluate("window.__cspViolations || []")
        found = [*events, *console]
        console.clear()
        return found

    page.csp_violations = csp_violations
    return page


def wait_until(page, predicate, timeout=20.0):
    """Poll a JS function until it returns something truthy. (Playwright's
    wait_for_function evaluates strings with eval, which the page's CSP refuses.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {predicate}")
        page.wait_for_timeout(200)
