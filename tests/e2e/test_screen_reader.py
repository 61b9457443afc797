"""What a screen reader gets of the live pages: each chart's text summary, kept current
as data arrives, and the live region, which says a new best and the end, once each,
and nothing on a poll that changed nothing."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser import wait_until
from tests.e2e.test_keyboard import CHART_DRAWN, sweep
from tests.factories import make_intermediate_results, make_job
from tracking.models import Experiment, Job

pytestmark = pytest.mark.django_db(transaction=True)

# Counts the swaps of the summary (each answer to the page's clock) and every change
# made to the live region, from now on.
WATCH = """() => {
  window.__polls = 0;
  window.__changes = 0;
  document.body.addEventListener('htmx:afterSettle', e => { if (e.target.id === 'summary' || e.target.id === 'job-summary') window.__polls++; });
  new MutationObserver(records => { window.__changes += records.length; })
    .observe(document.getElementById('announcer'), {childList: true, characterData: true, subtree: true});
}"""


def polls_pass(page, count=2):
    start = page.evaluate("() => window.__polls")
    wait_until(page, f"() => window.__polls >= {start + count}", 30)


def better_job(experiment, score, steps=3):
    job = make_job(experiment, status="FINISHED", score=score, end_time=timezone.now(), config={"lr": 0.5, "optimizer": "sgd"})
    make_intermediate_results(job, [score / 2] * (steps - 1) + [score])
    return job


def test_it_describes_each_chart_and_keeps_the_descriptions_current(page, login):
    alice = login("alice")
    experiment, jobs = sweep(alice, count=4, status="RUNNING")
    best = jobs[-1]
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, CHART_DRAWN)
    page.wait_for_selector("#params-charts canvas")
    curves, history, params = page.locator("#curves-chart"), page.locator("#history-chart"), page.locator("#params-charts")
    expect(curves).to_have_accessible_description(f"Learning curves (score) of 4 of 4 jobs; best job {best.number}, score 1 at step 4.")
    expect(history).to_have_accessible_description(
        f"Optimization history: the final score of 4 jobs of 4 in order, and the best so far; best job {best.number}, score 1."
    )
    expect(params).to_have_accessible_description(
        f"Hyperparameters vs score: one scatter for each of lr, optimizer, over 4 jobs; best job {best.number}, score 1, with lr 0.04, optimizer adam."
    )
    # Each chart still has its table alternative beside the summary.
    for table in ("#curves-table", "#history-table", "#params-table"):
        assert page.locator(f"{table} tbody tr").count() == 4

    # A better job arrives: the next tick's data rewrites the three summaries.
    newcomer = better_job(experiment, 2.0)
    expect(curves).to_have_accessible_description(
        f"Learning curves (score) of 5 of 5 jobs; best job {newcomer.number}, score 2 at step 2.", timeout=20_000
    )
    expect(history).to_have_accessible_description(re.compile(rf"of 5 jobs of 5 .*best job {newcomer.number}, score 2\.$"), timeout=20_000)
    expect(params).to_have_accessible_description(re.compile(rf"over 5 jobs; best job {newcomer.number}, score 2, with lr 0.5, optimizer sgd\.$"))

    # The job page's curve has its own.
    page.goto(f"/jobs/{newcomer.pk}/")
    page.wait_for_selector("#job-chart canvas")
    expect(page.locator("#job-chart")).to_have_accessible_description(
        "Learning curve of this job: score over 3 points (steps 0 to 2), last 2, best 2 at step 2."
    )


def test_it_announces_a_new_best_and_the_end_once_and_never_an_unchanged_poll(page, login):
    alice = login("alice")
    experiment, jobs = sweep(alice, count=3, status="RUNNING")
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, CHART_DRAWN)
    region = page.locator("#announcer")
    expect(page.get_by_role("status")).to_have_attribute("aria-live", "polite")
    page.evaluate(WATCH)

    # Polls that change nothing say nothing (the best on load is known, not news).
    polls_pass(page)
    assert page.evaluate("() => window.__changes") == 0
    expect(region).to_have_text("")

    # A new best is said once.
    newcomer = better_job(experiment, 2.0)
    expect(region).to_have_text(f"New best: job {newcomer.number}, score 2.", timeout=20_000)
    changes = page.evaluate("() => window.__changes")
    polls_pass(page)
    assert page.evaluate("() => window.__changes") == changes

    # A job that is not better says nothing.
    better_job(experiment, 0.5)
    wait_until(page, "() => document.querySelectorAll('#jobs tbody tr').length === 5", 20)
    polls_pass(page)
    assert page.evaluate("() => window.__changes") == changes

    # The end is said, with the best.
    Experiment.objects.filter(pk=experiment.pk).update(status="FINISHED", end_time=timezone.now())
    expect(region).to_have_text(
        f"The experiment has ended: finished, 5 of 5 jobs done; best job {newcomer.number}, score 2.", timeout=20_000
    )


def test_it_announces_the_end_of_a_job_on_its_page(page, login):
    alice = login("alice")
    experiment, jobs = sweep(alice, count=2, status="RUNNING")
    job = jobs[0]
    Job.objects.filter(pk=job.pk).update(status="RUNNING", end_time=None, score=None)
    page.goto(f"/jobs/{job.pk}/")
    page.wait_for_selector("#job-chart canvas")
    page.evaluate(WATCH)
    polls_pass(page)
    assert page.evaluate("() => window.__changes") == 0
    Job.objects.filter(pk=job.pk).update(status="FINISHED", end_time=timezone.now(), score=0.75)
    expect(page.locator("#announcer")).to_have_text(f"Job {job.number} has ended: finished, score 0.75.", timeout=20_000)
