"""Our favicon in a real browser: the admin's pages name it, and nothing it asks for is a 404."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# What the browser gets for a URL, as the page's own scripts would (fetch follows redirects).
FETCH = "url => fetch(url).then(r => [r.status, new URL(r.url).pathname, r.headers.get('content-type')])"


def test_it_gives_the_admin_and_the_dashboard_our_favicon(page, login):
    login("root", is_staff=True, is_superuser=True)
    answers = []
    page.on("response", lambda response: answers.append((response.status, response.url)))
    for path in ("/admin/", "/admin/tracking/experiment/", "/"):
        page.goto(path)
        icon = page.locator("link[rel=icon]")
        assert icon.count() == 1, path
        assert page.evaluate(FETCH, icon.get_attribute("href")) == [200, "/static/aupsite/favicon.svg", "image/svg+xml"]
    assert [answer for answer in answers if answer[0] >= 400] == []


def test_it_answers_favicon_ico_with_our_icon_before_anyone_logs_in(browser, live_server):
    # What a browser asks for when a page names no icon (a JSON answer, the 500 page).
    # A context of its own: the `page` fixture's route (it adds the CSP header to every
    # answer) does not pass a redirect through to the browser.
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        assert page.evaluate(FETCH, "/favicon.ico") == [200, "/static/aupsite/favicon.svg", "image/svg+xml"]
    finally:
        context.close()
