"""The API tokens page in a real browser, under the strict Content-Security-Policy:
reached from the user menu, a refused name, a token issued and copied, one revoked."""

import pytest

from tests.factories import make_token
from tracking.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_issues_copies_and_revokes_a_token(page, login, live_server):
    alice = login("alice")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    make_token(alice, "old box")

    page.goto("/")
    page.click("details.usermenu summary")
    page.click("details.usermenu >> text=API tokens")
    page.wait_for_url("**/tokens/")
    assert page.locator("details.usermenu a[href='/admin/']").count() == 0  # not staff

    # A refused name: the form says why, next to the field, and nothing is issued.
    page.fill("#id_name", "x" * 100)
    page.evaluate("document.querySelector('#id_name').removeAttribute('maxlength')")
    page.fill("#id_name", "x" * 101)
    page.click("button:has-text('Issue token')")
    page.wait_for_selector("#name-errors")
    assert "at most 100 characters" in page.inner_text("#name-errors")
    assert page.get_attribute("#id_name", "aria-invalid") == "true"
    assert ApiToken.objects.count() == 1
    # The refusal's 400 is the one console error expected.
    assert page.problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.problems.clear()

    # Issued: the secret once, with its lines; Copy puts the line on the clipboard.
    page.fill("#id_name", "gpu-box-1")
    page.click("button:has-text('Issue token')")
    page.click("button[data-copy='token-python']")
    page.wait_for_selector("button[data-copy='token-python']:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == (
        f'from tracking.client import RestConnector\nconnector = RestConnector("{live_server.url}")'
    )
    assert page.locator("table.tokens tbody tr").count() == 2
    page.screenshot(path="/tmp/onboard-tokens-issued.png", full_page=True)

    # Revoked after a confirmation page.
    page.click("#token-%d >> text=Revoke" % ApiToken.objects.get(name="gpu-box-1").pk)
    page.wait_for_selector("h1:has-text('Revoke the token')")
    page.screenshot(path="/tmp/onboard-token-revoke.png", full_page=True)
    page.click("button:has-text('Revoke the token')")
    page.wait_for_selector(".messages >> text=is revoked")
    assert ApiToken.objects.get(name="gpu-box-1").revoked is not None
    assert page.locator("#token-%d .badge" % ApiToken.objects.get(name="gpu-box-1").pk).inner_text().startswith("revoked")
