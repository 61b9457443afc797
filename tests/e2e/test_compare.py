"""Compare (issue 13, item 5) in Chromium: picking jobs in a live jobs table (the picks
survive its htmx refreshes and paging) and opening their comparison; picking experiments
in the list and opening theirs."""

import re

import pytest

from tests.browser import wait_until
from tests.factories import make_configured_experiment, make_jobs, make_recorded_job, make_resource
from tracking.views import JOBS_PER_PAGE

pytestmark = pytest.mark.django_db(transaction=True)

PARAMETERS = [{"name": "lr", "range": [0.001, 0.1], "type": "float"}, {"name": "optimizer", "range": ["sgd", "adam"], "type": "choice"}]

# The number of jobs' refreshes of the table seen so far.
COUNT_SWAPS = (
    "() => { window.__swaps = 0; document.body.addEventListener('htmx:afterSettle', (e) => {"
    " if (e.detail.elt && e.detail.elt.id === 'jobs') window.__swaps++; }); }"
)


def test_it_picks_jobs_in_the_live_table_and_compares_them(page, login):
    alice = login("alice")
    cpu = make_resource()
    experiment = make_configured_experiment(
        alice, "live sweep", parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )
    jobs = make_jobs(experiment, JOBS_PER_PAGE + 3, steps=8, labels=2, resource=cpu)
    make_recorded_job(experiment, cpu, config={"lr": 0.5, "optimizer": "sgd"})  # running: the page stays live

    page.goto(f"/experiments/{experiment.pk}/")
    page.evaluate(COUNT_SWAPS)
    # Newest first: the first page holds the newest jobs; pick two of them with the keyboard.
    newest = jobs[-1]
    page.focus(f"#compare-{newest.pk}")
    page.keyboard.press("Space")
    page.check(f"#compare-{jobs[-3].pk}")
    wait_until(page, "() => document.querySelector('#compare-picked').textContent.includes('2 picked')")
    # The table refreshes on the page's clock: the picks stay checked.
    wait_until(page, "() => window.__swaps >= 2", 15)
    assert page.is_checked(f"#compare-{newest.pk}") and page.is_checked(f"#compare-{jobs[-3].pk}")
    # The pin checkbox is another control: untouched.
    assert not page.is_checked(f"#plot-{newest.pk}")
    # A job from the second page joins the picks (paging swaps the table too).
    page.click("#jobs .pagination [rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    page.check(f"#compare-{jobs[0].pk}")
    assert "3 picked" in page.inner_text("#compare-picked")
    page.click("#compare-go")
    page.wait_for_url(re.compile(rf"/experiments/{experiment.pk}/compare/\?jobs="))

    # The comparison: side by side, the differences marked, the curves overlaid.
    page.wait_for_selector("#compare-chart canvas")
    headers = [text.strip() for text in page.locator(".compare-table thead th").all_text_contents()]
    assert headers == ["Job", f"Job {jobs[0].number}", f"Job {jobs[-3].number}", f"Job {newest.number}"]
    lr_row = page.locator(".compare-table tr.differs", has_text="lr")
    assert "≠" in lr_row.inner_text()
    assert page.locator(".compare-table tr.same", has_text="optimizer").count() == 0  # sgd, adam, sgd... differ
    assert page.evaluate("window.aupsiteCompareChart.u.series.length") == 4  # x and 3 jobs
    colours = page.evaluate("window.aupsiteCompareChart.u.series.slice(1).map(s => s._stroke || s.stroke())")
    assert len(set(colours)) == 3
    assert [text.strip() for text in page.locator("#compare-legend li").all_text_contents()] == headers[1:]
    assert "score of 3 of 3 compared jobs" in page.inner_text("#compare-summary")
    # Another series: the labeled result "loss".
    page.select_option("#compare-series", label="loss")
    wait_until(page, "() => document.querySelector('#compare-summary').textContent.startsWith('loss')")
    assert page.locator("#compare-chart canvas").count() == 1

    # Back on the experiment page, the picks are still there.
    page.go_back()
    page.wait_for_selector("#compare-picked")
    wait_until(page, "() => document.querySelector('#compare-picked').textContent.includes('3 picked')")


def test_it_refuses_too_many_picks_before_leaving_the_page(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "ended sweep", status="FINISHED", parameter_config=PARAMETERS)
    jobs = make_jobs(experiment, 8)
    page.goto(f"/experiments/{experiment.pk}/")
    for job in jobs[:7]:
        page.check(f"#compare-{job.pk}")
    page.click("#compare-go")
    assert "at most 6" in page.inner_text("#compare-problem")
    assert page.url.endswith(f"/experiments/{experiment.pk}/")
    page.click("#compare-clear")
    assert not page.is_checked(f"#compare-{jobs[0].pk}")


def test_it_picks_experiments_in_the_list_and_compares_them(page, login):
    alice = login("alice")
    one = make_configured_experiment(alice, "first sweep", status="FINISHED", proposer="random", parameter_config=PARAMETERS)
    two = make_configured_experiment(alice, "second sweep", status="FINISHED", proposer="bayes", target="min",
                                     parameter_config=PARAMETERS[:1])
    make_configured_experiment(alice, "third sweep", status="FINISHED")
    make_jobs(one, 5)
    make_jobs(two, 4)

    page.goto("/")
    page.check(f"#compare-experiment-{one.pk}")
    page.focus(f"#compare-experiment-{two.pk}")
    page.keyboard.press("Space")
    with page.expect_navigation():
        page.click("#compare-experiments-go")
    assert "/experiments/compare/?ids=" in page.url

    page.wait_for_selector("#compare-index-chart canvas")
    page.wait_for_selector("#compare-time-chart canvas")
    assert page.evaluate("window.aupsiteCompareCharts.map(u => u.series.length)") == [3, 3]
    assert "first sweep (max)" in page.inner_text("#compare-index-summary")
    assert "second sweep (min)" in page.inner_text("#compare-index-summary")
    proposer = page.locator(".compare-config tr.differs", has_text="proposer")
    assert "≠" in proposer.inner_text() and "random" in proposer.inner_text() and "bayes" in proposer.inner_text()
    assert page.locator("#compare-best-" + str(one.pk)).inner_text() == "Job 5"
    assert page.locator("#compare-best-" + str(two.pk)).inner_text() == "Job 1"  # min: the first job's 0.25


def test_it_picks_a_job_by_shift_clicking_its_curve(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "ended sweep", status="FINISHED", parameter_config=PARAMETERS)
    jobs = make_jobs(experiment, 3, steps=6)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u && window.aupsiteChart.jobs.length === 3")
    # The job under the pointer, as charts.js names it while a curve is hovered.
    page.evaluate(f"() => {{ window.aupsiteChart.focused = window.aupsiteChart.jobs.find(j => j.id === {jobs[1].pk}); }}")
    page.evaluate(
        "() => document.querySelector('#curves-chart .u-over').dispatchEvent("
        "new MouseEvent('click', {bubbles: true, shiftKey: true}))"
    )
    page.wait_for_timeout(300)  # time for a navigation, were the click to reach charts.js
    assert page.url.endswith(f"/experiments/{experiment.pk}/")  # not sent to the job's page
    assert page.is_checked(f"#compare-{jobs[1].pk}")
    assert f"1 picked: Job {jobs[1].number}." in page.inner_text("#compare-picked")
