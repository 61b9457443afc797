"""The dashboard in a real browser while an executor writes (tracking.demo through
DjangoConnector): list, experiment page with live curves and table, job, resources."""

import re

import pytest

from tests.browser import wait_until
from tracking.demo import DemoExecutor
from tracking.models import IntermediateResult

pytestmark = pytest.mark.django_db(transaction=True)

CURVE_POINTS = (
    "() => window.aupsiteChart && window.aupsiteChart.u ? window.aupsiteChart.u.data.slice(1)"
    ".reduce((n, s) => n + s.filter(v => v !== null && v !== undefined).length, 0) : 0"
)


def test_it_follows_a_running_experiment_live(page, login):
    login("alice")
    executor = DemoExecutor("alice", jobs=6, parallel=2, steps=60, step_delay=0.1, name="live sweep")
    executor.start()
    try:
        executor.run_in_background()

        # The list shows the running experiment.
        page.goto("/")
        row = page.locator("table.data tbody tr", has_text="live sweep")
        assert row.locator(".badge[class*=status-]:not(.waiting-mark)").inner_text() == "running"

        # The experiment page draws the curves on a canvas with uPlot.
        row.locator("a").first.click()
        page.wait_for_url(re.compile(r"/experiments/\d+/$"))
        page.wait_for_selector("#curves-chart canvas")
        wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u && window.aupsiteChart.u.series.length > 1")
        # The benchmark times navigation to this mark (bench/browser.py).
        assert page.evaluate("performance.getEntriesByName('aupsite:curves-drawn').length") == 1
        page.evaluate("window.__not_reloaded = true")
        before = page.evaluate(CURVE_POINTS)
        assert before > 0

        # New results appear without a reload: more points on the same chart, and
        # the summary and table update through htmx.
        wait_until(page, f"() => ({CURVE_POINTS})() > {before}")
        done_before = int(page.inner_text("#jobs-done"))
        wait_until(page, f"() => +document.querySelector('#jobs-done').textContent > {done_before}", 30)
        wait_until(page, "() => document.querySelectorAll('#jobs tbody tr').length >= 3", 30)
        assert page.evaluate("window.__not_reloaded") is True

        # Hovering a job row highlights its curve (uPlot focus) and the row itself.
        first_row = page.locator("#jobs tbody tr").first
        first_row.hover()
        assert "hl" in (first_row.get_attribute("class") or "") or page.evaluate("window.aupsiteChart.focused !== null")

        # Sorting the table is a link swapped in place, and the URL keeps the state.
        page.click("#sort-score")
        page.wait_for_url(re.compile(r"sort=-score"))
        assert page.evaluate("window.__not_reloaded") is True

        # The history and parameter charts draw once jobs have scores.
        page.wait_for_selector("#history-chart canvas", timeout=30_000)
        page.wait_for_selector("#params-charts canvas")

        # The executor ends: the page shows it, and every poll stops (htmx on HTTP
        # 286, charts.js on "ended").
        executor.stop()
        wait_until(page, "() => document.querySelector('#experiment-status').textContent.trim() === 'stopped'", 30)
        wait_until(page, "() => window.aupsiteChart.ended === true", 30)
        page.wait_for_timeout(3500)  # let any poll already in flight land
        polls = []
        page.on("request", lambda request: polls.append(request.url))
        page.wait_for_timeout(4500)  # two summary and table poll periods
        assert polls == []
        assert page.locator(".live-dot").count() == 0

        # A job page: its configuration, attempts and curve.
        # The table names a job by its number in the experiment; its link has the id.
        job_link = page.locator("#jobs tbody tr td a").first
        job_number = job_link.inner_text()
        job_url = job_link.get_attribute("href")
        job_link.click()
        page.wait_for_url(f"**{job_url}")
        page.wait_for_selector("#job-chart canvas")
        assert page.locator("h1").inner_text().startswith(f"Job {job_number}")
        assert page.locator("svg.timeline rect.seg").count() >= 1

        # The resources page shows what runs where.
        page.click("nav.mainnav >> text=Resources")
        page.wait_for_url("**/resources/")
        assert page.locator("table.resources tbody tr", has_text="demo").count() >= 2
    finally:
        executor.stop()
    assert executor.errors == []
    assert IntermediateResult.objects.filter(job__experiment_id=executor.eid).exists()


def test_it_hides_other_peoples_experiments_and_stops_polling_when_ended(page, login):
    from tests.factories import make_user

    executor = DemoExecutor(make_user("bob").username, jobs=2, parallel=2, steps=5, step_delay=0, name="bobs sweep")
    eid = executor.run()
    login("alice")
    response = page.goto(f"/experiments/{eid}/")
    assert response.status == 404 and "Not found" in page.inner_text("h1")
    page.goto("/")
    assert "No experiments yet" in page.inner_text("main")

    # Staff see it; an ended experiment's page draws once and does not poll.
    page.context.clear_cookies()
    login("root", is_staff=True)
    page.goto(f"/experiments/{eid}/")
    page.wait_for_selector("#curves-chart canvas")
    page.wait_for_selector("#importance[aria-busy=false]")  # issue 13: the panel's one request, on load
    assert page.evaluate("window.aupsiteChart.u.series.length") == 3  # x and two jobs
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(3000)  # longer than any poll period
    assert requests == []
    assert page.locator("[hx-trigger]").count() == 0


def kind_of(request):
    """What a request of the experiment page refreshes: its summary, its jobs table or its charts."""
    if request.url.split("?")[0].endswith("/charts.json"):
        return "charts"
    return request.headers.get("hx-target") or request.url


def test_it_refreshes_a_running_experiment_on_one_clock_and_stops_it_when_it_ends(page, login):
    login("alice")
    executor = DemoExecutor("alice", jobs=4, parallel=2, steps=400, step_delay=0.05, name="one clock")
    eid = executor.start()
    try:
        executor.run_in_background()
        page.goto(f"/experiments/{eid}/")
        wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u")
        # Zoomed in (as a drag does: the x scale set, the chart marked zoomed), the chart
        # keeps its zoom while the ticks bring new points.
        zoom = "() => { const u = window.aupsiteChart.u; return [u.scales.x.min, u.scales.x.max]; }"
        page.evaluate("() => { const c = window.aupsiteChart; c.u.setScale('x', {min: 1, max: 3}); c.zoomed = true; }")
        before = page.evaluate(CURVE_POINTS)
        requests = []
        # The page's own requests only: the browser may fetch a static file (the favicon) late.
        page.on("request", lambda request: None if "/static/" in request.url else requests.append(kind_of(request)))
        page.wait_for_timeout(7000)  # three ticks and a half of a 2 s clock
        seen = list(requests)
        assert page.evaluate(CURVE_POINTS) > before and page.evaluate(zoom) == [1, 3]

        # One clock: each tick is the summary's poll, and each of its answers refreshes the
        # table and the charts once, before the next tick. (Three timers, as before, would
        # put 0 to 2 table or chart requests between two summary polls.)
        ticks = []
        for kind in seen:
            if kind == "summary":
                ticks.append([])
            elif ticks:
                ticks[-1].append(kind)
        # (issue 13: the importance panel refreshes on the clock too, from its cache.)
        assert set(seen) <= {"summary", "jobs", "charts", "importance"}, seen
        assert len(ticks) >= 3, seen
        for burst in ticks[:-1]:  # the last tick's refreshes may fall after the window
            assert sorted(burst) == ["charts", "importance", "jobs"], seen

        # The executor ends: one last tick shows it, then nothing is requested at all.
        executor.stop()
        wait_until(page, "() => document.querySelector('#experiment-status').textContent.trim() === 'stopped'", 30)
        wait_until(page, "() => window.aupsiteChart.ended === true", 30)
        page.wait_for_timeout(1500)  # the last tick's refreshes land
        requests.clear()
        page.wait_for_timeout(4500)  # two periods of the clock
        assert requests == []
        assert page.locator("#jobs[hx-trigger]").count() == 0 and page.locator(".live-dot").count() == 0
    finally:
        executor.stop()
    assert executor.errors == []
