"""The dashboard without a mouse and without seeing it: the keyboard-only walk, the
skip link, landmarks and headings, the focus ring, the keyboard equivalents of the
charts' pointer interactions (pins, series, zoom reset), the charts' text summaries
and the live region."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser import wait_until
from tests.e2e.conftest import PASSWORD
from tests.factories import make_configured_experiment, make_intermediate_results, make_jobs, make_user
from tracking.models import Experiment, Job

pytestmark = pytest.mark.django_db(transaction=True)

CHART_DRAWN = "() => window.aupsiteChart && window.aupsiteChart.u"
PARAMETERS = [
    {"name": "lr", "range": [0.001, 0.1], "type": "float"},
    {"name": "optimizer", "range": ["adam", "sgd"], "type": "choice"},
]


def sweep(owner, count=12, status="FINISHED", steps=5, name="keyboard sweep"):
    """An experiment of `count` finished jobs with curves and one labeled result
    (accuracy), target max: the last job is the best."""
    experiment = make_configured_experiment(
        owner, name=name, status=status, n_samples=count, parameter_config=PARAMETERS,
        resource_args={"multi_res_labels": ["accuracy"]},
    )
    if experiment.ended:
        Experiment.objects.filter(pk=experiment.pk).update(end_time=timezone.now())
    return experiment, make_jobs(experiment, count, steps=steps, labels=1)


def user_with_password(username="alice"):
    user = make_user(username)
    user.set_password(PASSWORD)
    user.save()
    return user


def active(page):
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, tag: e.tagName, cls: e.className, text: (e.textContent || '').trim()}; }"
    )


def tab_to(page, predicate, limit=200):
    """Press Tab until the focused element satisfies `predicate` (a JS function of it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => ({predicate})(document.activeElement)"):
            return
    raise AssertionError(f"{limit} Tabs never reached {predicate}")


ROW_IDS = "() => [...document.querySelectorAll('#jobs tbody tr[data-job]')].map(tr => +tr.dataset.job)"


def row_ids(page):
    return page.evaluate(ROW_IDS)


def test_it_walks_from_login_to_a_pinned_job_and_back_with_the_keyboard_only(page, live_server):
    user_with_password("alice")
    experiment, jobs = sweep(make_user("alice"))
    by_score = [job.pk for job in sorted(jobs, key=lambda job: -job.score)]
    worst = jobs[0]  # not among the 10 best drawn by default

    # Log in: the user name field has the focus.
    page.goto("/accounts/login/")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == live_server.url + "/"

    # The first Tab reaches the skip link, which moves the focus to the content.
    page.keyboard.press("Tab")
    assert active(page)["text"] == "Skip to content"
    page.keyboard.press("Enter")
    assert active(page)["id"] == "main"

    # Open the experiment.
    tab_to(page, "e => e.textContent.trim() === 'keyboard sweep'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/experiments/{experiment.pk}/"
    wait_until(page, CHART_DRAWN)
    assert worst.pk not in page.evaluate("() => window.aupsiteChart.jobs.map(j => j.id)")

    # Sort the jobs table by score (best first, the target being max): swapped in place,
    # the URL says so, and the focus stays on the sort link.
    tab_to(page, "e => e.id === 'sort-score'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?sort=-score$"))
    wait_until(page, f"() => ({ROW_IDS})().join() === '{','.join(map(str, by_score))}'")
    assert row_ids(page) == by_score
    assert active(page)["id"] == "sort-score"
    assert page.get_attribute("#jobs th[aria-sort='descending'] a", "id") == "sort-score"

    # Pin the worst job: its checkbox is checked and its curve is drawn.
    tab_to(page, f"e => e.id === 'plot-{worst.pk}'")
    page.keyboard.press("Space")
    wait_until(page, f"() => window.aupsiteChart.jobs.some(j => j.id === {worst.pk})")
    assert page.is_checked(f"#plot-{worst.pk}")
    expect(page.locator("#curves-chart")).to_have_accessible_description(re.compile(r"of 11 of 12 jobs, 1 pinned"))

    # Open it: the next stop after its pin is its link.
    page.keyboard.press("Tab")
    assert active(page)["id"] == f"job-link-{worst.pk}"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/jobs/{worst.pk}/"
    assert page.locator("h1").inner_text().startswith(f"Job {worst.pk}")

    # And back, by the breadcrumb (Alt+Left is the browser's own shortcut, which CDP's
    # key events do not reach in headless Chromium): the experiment again.
    page.keyboard.press("Tab")
    assert active(page)["text"] == "Skip to content"
    tab_to(page, "e => e.closest('nav.breadcrumbs') && e.textContent.trim() === 'keyboard sweep'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/experiments/{experiment.pk}/"
    assert page.locator("h1").inner_text().startswith("keyboard sweep")
    wait_until(page, CHART_DRAWN)
