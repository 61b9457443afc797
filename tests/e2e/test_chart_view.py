"""The experiment page's charts in Chromium (issue 13): a double-click resets the zoom
and stays on the page, the drawn curves have distinct colours and a legend, a tooltip
follows the cursor and goes when it leaves, the view lives in the URL (reload restores
it), and a labeled result as the objective redraws the history in its direction."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser import wait_until
from tests.e2e.test_keyboard import CHART_DRAWN, drag_zoom
from tests.factories import make_configured_experiment, make_jobs
from tracking.models import Experiment, MultipleResult

pytestmark = pytest.mark.django_db(transaction=True)

LOSSES = [0.9, 0.7, 0.8, 0.5, 0.6, 0.3, 0.4, 0.35, 0.45, 0.33, 0.5, 0.6]
PARAMETERS = [
    {"name": "lr", "range": [0.001, 0.1], "type": "float", "log": True},
    {"name": "optimizer", "range": ["sgd", "adam"], "type": "choice"},
]
HISTORY_DRAWN = "() => window.aupsiteChart && window.aupsiteChart.history"
X_RANGE = "() => {{ const u = {plot}; return [u.scales.x.min, u.scales.x.max]; }}"


def search(owner, count=12, steps=20, status="FINISHED"):
    """An ended experiment (target max) of `count` jobs with curves, an accuracy and a
    loss per step; the jobs' final losses are LOSSES."""
    experiment = make_configured_experiment(
        owner, name="view sweep", status=status, parameter_config=PARAMETERS,
        resource_args={"multi_res_labels": ["accuracy", "loss"]},
    )
    if experiment.ended:
        Experiment.objects.filter(pk=experiment.pk).update(end_time=timezone.now())
    jobs = make_jobs(experiment, count, steps=steps, labels=2)
    for index, job in enumerate(jobs):
        MultipleResult.objects.filter(job=job, label_order=2, is_last=True).update(value=LOSSES[index % len(LOSSES)])
    return experiment, jobs


def point_of(page, plot, series, index):
    """The page coordinates of data point `index` of `series` on a uPlot chart, scrolled into view."""
    page.evaluate(f"() => {plot}.over.scrollIntoView({{block: 'center'}})")
    # uPlot learns of a scroll from the scroll event, dispatched with the next frame; a
    # pointer move before it would be placed with the chart's old position (as no hand
    # could be that fast). Two frames later the event has come.
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return page.evaluate(
        f"""() => {{
          const u = {plot}, box = u.over.getBoundingClientRect();
          return [box.left + u.valToPos(u.data[0][{index}], 'x'), box.top + u.valToPos(u.data[{series}][{index}], 'y')];
        }}"""
    )


def test_it_resets_the_zoom_on_a_double_click_and_stays_on_the_page(page, login):
    alice = login("alice")
    experiment, jobs = search(alice)
    url = f"/experiments/{experiment.pk}/"
    page.goto(url)
    wait_until(page, CHART_DRAWN)
    wait_until(page, HISTORY_DRAWN)
    for chart, button, plot in (
        ("#curves-chart", "#curves-reset", "window.aupsiteChart.u"),
        ("#history-chart", "#history-reset", "window.aupsiteChart.history"),
    ):
        full = page.evaluate(X_RANGE.format(plot=plot))
        drag_zoom(page, chart)
        assert page.evaluate(X_RANGE.format(plot=plot)) != full
        assert page.get_attribute(button, "aria-disabled") == "false"
        # Double-click right on a point, where a single click opens its job.
        x, y = point_of(page, plot, 1, page.evaluate(f"() => Math.floor({plot}.data[0].length / 2)"))
        page.mouse.move(x, y)
        page.mouse.dblclick(x, y)
        page.wait_for_timeout(900)  # longer than a single click's wait before it opens a job
        assert page.url.endswith(url), page.url
        assert page.evaluate(X_RANGE.format(plot=plot)) == full
        assert page.get_attribute(button, "aria-disabled") == "true"
        assert "zoom=" not in page.url
    # A single click on a point of the history still opens its job.
    x, y = point_of(page, "window.aupsiteChart.history", 1, 0)
    page.mouse.move(x, y)
    with page.expect_navigation():
        page.mouse.click(x, y)
    assert page.url.endswith(f"/jobs/{jobs[0].pk}/")


def test_it_gives_the_drawn_curves_distinct_colours_and_a_legend(page, login):
    alice = login("alice")
    experiment, jobs = search(alice, count=14)
    page.goto(f"/experiments/{experiment.pk}/?sort=id")
    wait_until(page, CHART_DRAWN)
    drawn = page.evaluate("() => window.aupsiteChart.u.series.slice(1).map(s => s._stroke || s.stroke)")
    legend = page.evaluate(
        "() => [...document.querySelectorAll('#curves-legend li')].map(li => [li.textContent, li.dataset.color])"
    )
    assert len(drawn) == len(legend) == 10 and len(set(drawn)) == 10
    assert [color for _, color in legend] == drawn  # the legend names each curve in its colour
    numbers = {job.pk: job.number for job in jobs}
    ids = page.evaluate("() => window.aupsiteChart.jobs.map(j => j.id)")
    assert [text for text, _ in legend] == [f"Job {numbers[jid]}" for jid in ids]
    before = dict(zip(ids, drawn))
    # A pinned job joins with a colour of its own; the drawn ones keep theirs.
    page.check(f"#plot-{jobs[0].pk}")
    wait_until(page, "() => window.aupsiteChart.u.series.length === 12")
    after = page.evaluate(
        "() => Object.fromEntries(window.aupsiteChart.jobs.map((j, i) => [j.id, window.aupsiteChart.u.series[i + 1]._stroke]))"
    )
    assert {int(k): v for k, v in after.items() if int(k) in before} == before
    assert len(set(after.values())) == 11


def test_it_shows_a_tooltip_at_the_cursor_and_hides_it_when_the_mouse_leaves(page, login):
    alice = login("alice")
    experiment, jobs = search(alice)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, HISTORY_DRAWN)
    page.wait_for_selector("#importance[aria-busy=false]")  # the page's last change of layout
    footer = page.inner_text("#history-info")
    tip = page.locator("#history-chart .chart-tip")
    x, y = point_of(page, "window.aupsiteChart.history", 1, 2)
    page.mouse.move(x, y)
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(f"Job {jobs[2].number}")
    box = tip.bounding_box()
    assert abs(box["x"] - x) < 120 and abs(box["y"] - y) < 120  # at the cursor, not in the footer
    page.mouse.move(x, y - 400)  # off the chart
    expect(tip).to_be_hidden()
    assert page.inner_text("#history-info") == footer  # the footer keeps no read-out
    # The curves too: the tip names the curve under the cursor as soon as uPlot has
    # focused it (one move onto the point, as a hand would stop there).
    x, y = point_of(page, "window.aupsiteChart.u", 1, 10)
    page.mouse.move(x, y)
    curve_tip = page.locator("#curves-chart .chart-tip")
    expect(curve_tip).to_be_visible()
    expect(curve_tip).to_contain_text("step 10")
    page.mouse.move(5, 5)
    expect(curve_tip).to_be_hidden()


def test_it_restores_pins_series_log_y_show_all_zoom_and_objective_from_the_url(page, login):
    alice = login("alice")
    experiment, jobs = search(alice, count=14)
    page.goto(f"/experiments/{experiment.pk}/?sort=id&b.lr=0..1")
    wait_until(page, CHART_DRAWN)
    page.check(f"#plot-{jobs[0].pk}")
    wait_until(page, f"() => window.aupsiteChart.jobs.some(j => j.id === {jobs[0].pk})")
    page.select_option("#curves-series", "1")
    wait_until(page, "() => window.aupsiteChart.seriesName === 'accuracy'")
    page.check("#curves-logy")
    page.click("#curves-all")
    wait_until(page, "() => window.aupsiteChart.jobs.length === 14")
    page.select_option("#objective", "2")
    wait_until(page, "() => window.aupsiteChart.objective === '2' && document.querySelector('#history-summary').textContent.includes('loss')")
    drag_zoom(page, "#curves-chart")
    zoom = page.evaluate(X_RANGE.format(plot="window.aupsiteChart.u"))
    wait_until(page, "() => location.search.includes('zoom=')")
    query = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
    assert query["pin"] == str(jobs[0].pk) and query["series"] == "1" and query["logy"] == "1"
    assert query["all"] == "1" and query["objective"] == "2"
    # The others' keys are kept.
    assert query["sort"] == "id" and query["b.lr"] == "0..1"

    page.reload()
    wait_until(page, CHART_DRAWN)
    chart = "window.aupsiteChart"
    state = page.evaluate(
        f"() => ({{ pins: [...{chart}.selected], series: {chart}.seriesName, logy: {chart}.logY, all: {chart}.showAll,"
        f" distr: {chart}.u.scales.y.distr, objective: document.querySelector('#objective').value,"
        f" drawn: {chart}.jobs.length, zoomed: {chart}.zoomed }})"
    )
    assert state == {"pins": [jobs[0].pk], "series": "accuracy", "logy": True, "all": True, "distr": 3,
                     "objective": "2", "drawn": 14, "zoomed": True}
    restored = page.evaluate(X_RANGE.format(plot="window.aupsiteChart.u"))
    assert restored == pytest.approx(zoom, rel=1e-4)
    assert page.is_checked(f"#plot-{jobs[0].pk}") and page.is_checked("#curves-logy")
    expect(page.get_by_role("button", name="Show all", pressed=True)).to_be_visible()
    # The best job by loss is the one that set the lowest, not the last job drawn.
    best_job = jobs[LOSSES.index(min(LOSSES))]
    expect(page.locator("#history-chart")).to_have_accessible_description(
        f"Optimization history: the final loss of 14 jobs of 14 in order, and the best so far (lower is better);"
        f" best job {best_job.number}, loss 0.3."
    )


def test_it_switches_the_history_to_a_labeled_loss_whose_best_so_far_goes_down(page, login):
    alice = login("alice")
    experiment, jobs = search(alice)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, HISTORY_DRAWN)
    page.evaluate("() => { window.__objectives = []; document.addEventListener('aupsite:objective', e => window.__objectives.push(e.detail.key)); }")
    score_best = page.evaluate("() => window.aupsiteChart.history.data[2].filter(v => v !== null && v !== undefined)")
    assert score_best == sorted(score_best)  # the score is maximised: the best so far goes up

    page.select_option("#objective", "2")
    wait_until(page, "() => window.aupsiteChart.objective === '2' && window.aupsiteChart.history.series[1].label === 'loss'")
    best = page.evaluate("() => window.aupsiteChart.history.data[2].filter(v => v !== null && v !== undefined)")
    assert best == sorted(best, reverse=True) and best[-1] == min(LOSSES)
    assert page.evaluate("() => window.__objectives") == ["2"]
    assert page.evaluate("() => new URLSearchParams(location.search).get('objective')") == "2"
    # The summary's best job, the slice and contour plots follow the loss, lower is better.
    best_job = jobs[LOSSES.index(min(LOSSES))]
    expect(page.locator("#best-job-link")).to_have_text(f"Job {best_job.number}")
    expect(page.locator("#summary .stat-best .stat-label")).to_contain_text("Best loss")
    expect(page.locator("#params-charts")).to_have_accessible_description(re.compile(r"^Hyperparameters vs loss: .*best job %d, loss 0.3," % best_job.number))
    expect(page.locator("#contour-chart")).to_have_accessible_description(re.compile(r"^Contour of loss over lr and optimizer: .*best loss 0.3 \(lower is better\)"))
    assert page.get_attribute("#contour-legend", "data-best") == "0.3"
    # And back to the score.
    page.select_option("#objective", "score")
    wait_until(page, "() => window.aupsiteChart.history.series[1].label === 'score'")
    expect(page.locator("#best-job-link")).to_have_text(f"Job {jobs[-1].number}")


def test_it_draws_the_contour_of_the_chosen_parameters_and_keeps_them_in_the_url(page, login):
    alice = login("alice")
    experiment, _ = search(alice)
    page.goto(f"/experiments/{experiment.pk}/")
    page.wait_for_selector("#contour-chart canvas")
    assert page.get_attribute("#contour-chart", "data-cells") is not None
    page.select_option("#contour-x", "optimizer")
    wait_until(page, "() => new URLSearchParams(location.search).get('cx') === 'optimizer'")
    expect(page.locator("#contour-chart")).to_have_accessible_description(re.compile(r"^Contour of score over optimizer and lr"))
    # Its table lists the same cells.
    rows = page.locator("#contour-table tbody tr").count()
    assert rows == int(page.get_attribute("#contour-chart", "data-cells")) > 0
    page.reload()
    expect(page.locator("#contour-chart")).to_have_accessible_description(re.compile(r"^Contour of score over optimizer and lr"))
    assert page.input_value("#contour-x") == "optimizer"


def test_it_polls_the_summary_with_the_objective_and_forwards_the_brush_to_the_charts(page, login):
    alice = login("alice")
    experiment, jobs = search(alice, status="RUNNING")
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"/experiments/{experiment.pk}/?objective=2&b.lr=0.001..0.05")
    wait_until(page, CHART_DRAWN)
    # The page's clock (the summary's poll) carries the objective: its best job stays the loss's.
    page.wait_for_timeout(2600)  # a poll of the 2 s clock
    polls = [r.url for r in requests if r.headers.get("hx-target") == "summary"]
    assert polls and all("objective=2" in url for url in polls), polls
    # The brush's change (parallel coordinates) makes the charts ask again, with its keys.
    requests.clear()
    page.evaluate(
        "() => { history.replaceState(history.state, '', location.pathname + '?objective=2&b.lr=0.001..0.02');"
        " document.dispatchEvent(new CustomEvent('aupsite:filter', {detail: {query: 'b.lr=0.001..0.02'}})); }"
    )
    page.wait_for_timeout(500)
    asked = [r.url for r in requests if "/charts.json" in r.url]
    assert asked and "b.lr=0.001..0.02" in asked[0] and "objective=2" in asked[0], asked
