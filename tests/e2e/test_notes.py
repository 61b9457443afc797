"""Notes and tags in Chromium (issue 13, item 7): a malicious note does nothing under the
page's Content-Security-Policy, and notes and tags are edited with the keyboard alone,
swapped in by htmx without a reload.

The page fixture (tests/e2e/conftest.py) fails a test on any console error, script
error or CSP violation; these tests also fail on any dialog a note would open.
"""

import pytest

from tests.browser import wait_until
from tests.factories import make_configured_experiment, make_job, make_user, tag_experiment
from tests.test_notes import XSS_NOTES
from tracking.models import Experiment, Job

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = "\n\n".join(
    XSS_NOTES
    + [
        "[click me](javascript:window.__pwned=1)",
        '<img src="/nothing.png" onerror="window.__pwned=1">',
        "<a href=# onclick=window.__pwned=1 id=bait>bait</a>",
    ]
)


def watch_for_dialogs(page):
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


@pytest.mark.parametrize("where", ["experiment", "job"])
def test_it_runs_nothing_a_malicious_note_holds(page, login, where):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "sweep", status="FINISHED", n_samples=1)
    job = make_job(experiment, status="FINISHED", score=0.5)
    Experiment.objects.filter(pk=experiment.pk).update(notes=EVIL)
    Job.objects.filter(pk=job.pk).update(notes=EVIL)
    dialogs = watch_for_dialogs(page)

    response = page.goto(f"/experiments/{experiment.pk}/" if where == "experiment" else f"/jobs/{job.pk}/")

    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#notes .notes-body")
    # Everything in the note is there as text, and nothing of it became an element.
    body = page.locator("#notes .notes-body")
    assert "<script>alert('x')</script>" in body.inner_text()
    assert body.locator("script, img, iframe, svg, form, button, [style], [onerror], [onclick]").count() == 0
    hrefs = body.locator("a").evaluate_all("links => links.map((a) => a.getAttribute('href'))")
    assert all(href is None or href.startswith(("http://", "https://", "mailto:", "/")) for href in hrefs)
    # Click whatever links the note left, as a curious reader would (in place, not away).
    page.evaluate("() => document.querySelectorAll('#notes .notes-body a:not([href])').forEach((a) => a.click())")
    page.wait_for_timeout(300)  # a dialog or an error would have come by now: nothing should
    assert dialogs == []
    assert page.evaluate("() => window.__pwned === undefined")
    assert page.problems == []


def test_it_edits_notes_and_tags_with_the_keyboard_without_a_reload(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "keyboard sweep", status="FINISHED", n_samples=1)
    other = make_configured_experiment(alice, "other sweep", status="FINISHED", n_samples=1)
    tag_experiment(other, "resnet")
    Experiment.objects.filter(pk=experiment.pk).update(notes="first words")
    page.goto(f"/experiments/{experiment.pk}/")
    page.evaluate("window.__not_reloaded = true")

    # Notes: open the editor, preview, then save, keys only.
    page.focus("#notes summary")
    page.keyboard.press("Enter")
    page.focus("#notes-text")
    page.keyboard.press("Control+A")
    page.keyboard.type("# Result\n\nThe **learning rate** matters.")
    page.keyboard.press("Tab")  # Save
    page.keyboard.press("Tab")  # Preview
    page.keyboard.press("Enter")
    page.wait_for_selector("#notes .notes-preview h3")
    # The focus moves once htmx has settled the swap (notes.js, on htmx:afterSettle).
    wait_until(page, "() => document.activeElement.id === 'notes-preview-title'")
    assert page.locator("#notes .notes-preview strong").inner_text() == "learning rate"
    assert Experiment.objects.get(pk=experiment.pk).notes == "first words"
    page.focus("#notes button.primary")
    page.keyboard.press("Enter")
    page.wait_for_selector("#notes .notes-status")
    wait_until(page, "() => document.activeElement.className === 'notes-status'")
    assert page.locator("#notes .notes-body h3").inner_text() == "Result"
    assert Experiment.objects.get(pk=experiment.pk).notes == "# Result\n\nThe **learning rate** matters."

    # Tags: add one (a suggestion from another experiment of hers), refuse a bad one, remove one.
    assert page.locator("#tag-suggestions option[value=resnet]").count() == 1
    page.focus("#tag-add")
    page.keyboard.type("ResNet")
    page.keyboard.press("Enter")
    page.wait_for_selector("#tags .tag-list a.tag")
    assert page.locator("#tags a.tag").all_inner_texts() == ["resnet"]
    page.focus("#tag-add")
    page.keyboard.type("not/a/tag")
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status, swapped in all the same
    page.keyboard.press("Enter")
    page.wait_for_selector("#tag-error")
    assert "is not a tag" in page.inner_text("#tag-error")
    wait_until(page, "() => document.activeElement.id === 'tag-add'")
    page.focus("#tags .tag-remove")
    page.keyboard.press("Enter")
    page.wait_for_selector("#tags .tags-none")
    assert list(Experiment.objects.get(pk=experiment.pk).tags.all()) == []
    assert page.evaluate("window.__not_reloaded") is True


def test_it_filters_the_list_by_a_tag_chip(page, login):
    alice = login("alice")
    tagged = make_configured_experiment(alice, "tagged sweep", status="FINISHED")
    make_configured_experiment(alice, "plain sweep", status="FINISHED")
    tag_experiment(tagged, "baseline")
    bob = make_user("bob")
    tag_experiment(make_configured_experiment(bob, "bob's sweep", status="FINISHED"), "bobs-secret")

    page.goto("/")
    assert "bobs-secret" not in page.content()
    page.click("table.data a.tag:has-text('baseline')")
    page.wait_for_url("**tag=baseline*")
    rows = page.locator("table.data tbody tr")
    assert rows.count() == 1 and "tagged sweep" in rows.inner_text()
    page.click("text=Remove the tag filter")
    page.wait_for_selector("table.data tbody tr:nth-child(2)")
    assert "tag=" not in page.url
