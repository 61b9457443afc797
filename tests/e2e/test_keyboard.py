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
from tests.factories import make_configured_experiment, make_jobs, make_user
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
    assert page.locator("h1").inner_text().startswith(f"Job {worst.number}")

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


# Every element a Tab can reach, in document order.
FOCUSABLE = (
    "() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary,"
    " [tabindex]:not([tabindex=\"-1\"])')].filter(e => !e.disabled && e.getClientRects().length)"
)
STRUCTURE = f"""() => {{
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
  const first = ({FOCUSABLE})()[0];
  return {{
    first: first && first.className, headings,
    main: document.querySelectorAll('main').length,
    banner: document.querySelectorAll('body > header').length,
    nav: document.querySelectorAll('header nav').length,
  }};
}}"""


def test_it_starts_every_page_with_the_skip_link_and_keeps_landmarks_and_headings_in_order(page, login, live_server):
    alice = login("alice")
    experiment, jobs = sweep(alice)
    running, _ = sweep(alice, status="RUNNING", name="running sweep", count=3)
    pages = [
        "/", "/?q=nothing+matches", f"/experiments/{experiment.pk}/", f"/experiments/{running.pk}/",
        f"/jobs/{jobs[0].pk}/", "/resources/", f"/experiments/{experiment.pk}/share/",
        f"/experiments/{running.pk}/stop/", f"/experiments/{experiment.pk}/restart/",
        f"/experiments/{experiment.pk}/delete/", "/no/such/page/",
    ]
    for path in pages:
        page.goto(path)
        found = page.evaluate(STRUCTURE)
        assert found["first"] == "skip-link", path
        assert (found["main"], found["banner"], found["nav"]) == (1, 1, 1), path
        levels = found["headings"]
        assert levels[0] == 1 and levels.count(1) == 1, (path, levels)
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), (path, levels)
        # The skip link works: Enter moves the focus to the content.
        page.evaluate("() => document.activeElement.blur()")
        page.keyboard.press("Tab")
        assert active(page)["cls"] == "skip-link", path
        page.keyboard.press("Enter")
        assert active(page)["id"] == "main", path

    page.context.clear_cookies()
    page.goto("/accounts/login/")
    found = page.evaluate(STRUCTURE)
    assert found["first"] == "skip-link" and found["main"] == 1 and found["headings"] == [1]


def contrast(a, b):
    def luminance(rgb):
        channels = [c / 255 for c in rgb]
        channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# The focused element's ring: its colour, width and style, and the colour it is drawn
# on (the parent's background for a ring outside the element, its own inside), with
# translucent backgrounds composed over what lies under them.
RING = """() => {
  const e = document.activeElement, style = getComputedStyle(e);
  const rgba = text => { const m = text.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const layers = [];
  for (let el = parseFloat(style.outlineOffset) < 0 ? e : e.parentElement; el; el = el.parentElement) {
    const bg = rgba(getComputedStyle(el).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] === 1) break;
  }
  let under = [255, 255, 255];
  if (!layers.length || layers[layers.length - 1][3] < 1) under = matchMedia('(prefers-color-scheme: dark)').matches ? [0, 0, 0] : [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) under = [r * a + under[0] * (1 - a), g * a + under[1] * (1 - a), b * a + under[2] * (1 - a)];
  return {id: e.id || e.className, ring: rgba(style.outlineColor), width: parseFloat(style.outlineWidth), style: style.outlineStyle, under};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_it_draws_a_focus_ring_of_at_least_3_to_1_at_every_tab_stop(page, login, scheme):
    alice = login("alice")
    experiment, jobs = sweep(alice)
    page.emulate_media(color_scheme=scheme)
    page.goto(f"/experiments/{experiment.pk}/?status=FINISHED")
    wait_until(page, CHART_DRAWN)
    # Every stop of a whole Tab round, from the skip link to the last one; among them each
    # kind of control the page has.
    wanted = {
        "skip-link", "mainnav", "usermenu", "controls", "curves-series", "curves-logy", "curves-all", "curves-reset",
        "alt", "filter-finished", "sort-score", f"plot-{jobs[0].pk}", f"job-link-{jobs[0].pk}",
    }
    seen = []
    for _ in range(300):
        page.keyboard.press("Tab")
        ring = page.evaluate(RING)
        key = page.evaluate(
            "() => { const e = document.activeElement, near = e.closest('.mainnav, .usermenu, .controls, details.alt');"
            " return near ? near.classList[0] : (e.id || e.className); }"
        )
        if page.evaluate("() => document.activeElement === document.body"):
            break  # past the last stop: a browser's own toolbar would come next
        seen.append(key)
        assert ring["style"] != "none" and ring["width"] >= 2, (key, ring)
        assert contrast(ring["ring"][:3], ring["under"]) >= 3, (scheme, key, ring)
    assert wanted <= set(seen), wanted - set(seen)


def test_it_keeps_the_keyboard_focus_in_the_jobs_table_while_it_refreshes(page, login):
    alice = login("alice")
    experiment, jobs = sweep(alice, status="RUNNING", count=3)
    Job.objects.filter(pk=jobs[0].pk).update(status="RUNNING", end_time=None)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, CHART_DRAWN)
    tab_to(page, f"e => e.id === 'job-link-{jobs[0].pk}'")
    page.evaluate("() => { window.__focused = document.activeElement; }")
    # Two refreshes of the table on the page's clock replace the link; the focus moves
    # to the new link of the same id, so the next Tab goes on from the same place.
    page.evaluate(
        "() => { window.__swaps = {jobs: 0, summary: 0}; document.body.addEventListener('htmx:afterSettle', e => {"
        " const id = e.target.closest('#jobs') ? 'jobs' : e.target.id; if (id in window.__swaps) window.__swaps[id]++; }); }"
    )
    wait_until(page, "() => window.__swaps.jobs >= 2", 30)
    assert page.evaluate("() => window.__focused !== document.activeElement && !document.body.contains(window.__focused)")
    assert active(page)["id"] == f"job-link-{jobs[0].pk}"

    # So is the summary's link to the best job, swapped on every tick.
    page.focus("#best-job-link")
    page.evaluate("() => { window.__focused = document.activeElement; window.__swaps.summary = 0; }")
    wait_until(page, "() => window.__swaps.summary >= 2", 30)
    assert page.evaluate("() => window.__focused !== document.activeElement && !document.body.contains(window.__focused)")
    assert active(page)["id"] == "best-job-link"


def drag_zoom(page, selector):
    over = page.locator(f"{selector} .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()


def test_it_resets_each_zoom_with_a_button_that_is_enabled_only_while_zoomed(page, login):
    alice = login("alice")
    experiment, jobs = sweep(alice, steps=20)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, CHART_DRAWN)
    page.wait_for_selector("#history-chart canvas")
    for chart, button, plot in (
        ("#curves-chart", "#curves-reset", "window.aupsiteChart.u"),
        ("#history-chart", "#history-reset", "window.aupsiteChart.history"),
    ):
        full = page.evaluate(f"() => [{plot}.scales.x.min, {plot}.scales.x.max]")
        assert page.get_attribute(button, "aria-disabled") == "true"
        drag_zoom(page, chart)
        assert page.get_attribute(button, "aria-disabled") == "false"
        assert page.evaluate(f"() => [{plot}.scales.x.min, {plot}.scales.x.max]") != full
        page.focus(button)
        page.keyboard.press("Enter")
        assert page.evaluate(f"() => [{plot}.scales.x.min, {plot}.scales.x.max]") == full
        assert page.get_attribute(button, "aria-disabled") == "true"
        # Pressed again with nothing to reset, it keeps the focus and does nothing.
        page.keyboard.press("Enter")
        assert active(page)["id"] == button[1:]

    page.goto(f"/jobs/{jobs[-1].pk}/")
    page.wait_for_selector("#job-chart canvas")
    full = page.evaluate("() => [window.aupsiteChart.u.scales.x.min, window.aupsiteChart.u.scales.x.max]")
    drag_zoom(page, "#job-chart")
    assert page.get_attribute("#job-reset", "aria-disabled") == "false"
    page.focus("#job-reset")
    page.keyboard.press("Space")
    assert page.evaluate("() => [window.aupsiteChart.u.scales.x.min, window.aupsiteChart.u.scales.x.max]") == full
    assert page.get_attribute("#job-reset", "aria-disabled") == "true"


def test_it_chooses_the_series_log_y_and_show_all_with_the_keyboard(page, login):
    alice = login("alice")
    experiment, _ = sweep(alice, count=12)
    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, CHART_DRAWN)
    chart = page.locator("#curves-chart")
    expect(chart).to_have_accessible_description(re.compile(r"^Learning curves \(score\) of 10 of 12 jobs"))

    tab_to(page, "e => e.id === 'curves-series'")
    expect(page.get_by_label("Series")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(chart).to_have_accessible_description(re.compile(r"^Learning curves \(accuracy\) of 10 of 12 jobs"))
    assert page.evaluate("() => window.aupsiteChart.seriesName") == "accuracy"

    page.keyboard.press("Tab")
    assert active(page)["id"] == "curves-logy"
    page.keyboard.press("Space")
    wait_until(page, "() => window.aupsiteChart.logY === true && window.aupsiteChart.u.scales.y.distr === 3")

    # "Show all" is a toggle button: its name stays, its pressed state changes.
    page.keyboard.press("Tab")
    assert active(page)["id"] == "curves-all"
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Show all", pressed=True)).to_be_focused()
    expect(chart).to_have_accessible_description(re.compile(r"^Learning curves \(accuracy\) of 12 of 12 jobs"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Show all", pressed=False)).to_be_focused()


def test_it_shows_and_hides_a_job_series_with_checkboxes_in_step_with_the_legend(page, login):
    alice = login("alice")
    _, jobs = sweep(alice)
    page.goto(f"/jobs/{jobs[-1].pk}/")
    page.wait_for_selector("#job-chart canvas")
    group = page.get_by_role("group", name="Series shown")
    score, accuracy = group.get_by_role("checkbox", name="score"), group.get_by_role("checkbox", name="accuracy")
    expect(score).to_be_checked()
    expect(accuracy).to_be_checked()
    accuracy.focus()
    page.keyboard.press("Space")
    expect(accuracy).not_to_be_checked()
    assert page.evaluate("() => window.aupsiteChart.u.series[2].show") is False
    expect(page.locator("#job-chart")).not_to_have_accessible_description(re.compile("accuracy"))
    # A click on the legend does the same, and the checkbox follows.
    page.locator("#job-chart .u-legend .u-series", has_text="accuracy").click()
    expect(accuracy).to_be_checked()
    expect(page.locator("#job-chart")).to_have_accessible_description(re.compile("accuracy over 5 points"))


def test_it_keeps_at_most_the_servers_number_of_pins_checked(page, login):
    from tracking.views import MAX_SELECTED

    alice = login("alice")
    experiment, jobs = sweep(alice, count=MAX_SELECTED + 3)
    page.goto(f"/experiments/{experiment.pk}/?sort=id")
    wait_until(page, CHART_DRAWN)
    pins = [job.pk for job in jobs[: MAX_SELECTED + 1]]
    for pk in pins:
        page.focus(f"#plot-{pk}")
        page.keyboard.press("Space")
    # The first pin went to make room for the last: every checked box is a drawn curve.
    checked = page.evaluate("() => [...document.querySelectorAll('#jobs input[name=plot]:checked')].map(b => +b.value)")
    assert checked == pins[1:]
    wait_until(page, f"() => window.aupsiteChart.jobs.filter(j => j.selected).length === {MAX_SELECTED}")
    drawn = page.evaluate("() => window.aupsiteChart.jobs.map(j => j.id)")
    assert set(pins[1:]) <= set(drawn)


def test_it_closes_the_user_menu_with_escape_and_with_a_click_elsewhere(page, login):
    login("alice")
    page.goto("/")
    menu, summary = page.locator("details.usermenu"), page.locator("details.usermenu summary")
    tab_to(page, "e => e.matches('details.usermenu summary')")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    assert active(page)["text"] == "API tokens"
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    assert page.evaluate("() => document.activeElement.matches('details.usermenu summary')")  # back where it opened

    summary.click()
    expect(menu).to_have_attribute("open", "")
    page.click("h1")
    expect(menu).not_to_have_attribute("open", "")
