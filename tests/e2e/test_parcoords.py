"""Parallel coordinates in a real browser: brushing an axis with the mouse filters the jobs
table and the charts, the URL carries the brush, and a reload restores it."""

import re
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.browser import wait_until
from tests.factories import make_configured_experiment, make_configured_jobs

pytestmark = pytest.mark.django_db(transaction=True)

PARAMETERS = [
    {"name": "lr", "range": [1e-4, 0.1], "type": "float", "log": True},
    {"name": "batch_size", "range": [32, 64, 128], "type": "choice"},
    {"name": "dropout", "range": [0.0, 0.5], "type": "float"},
]
# parcoords.js's margins (MARGIN): the plot runs from 46 px below the canvas' top to
# 26 px above its bottom; the last axis stands 56 px from its right edge.
TOP, BOTTOM, RIGHT = 46, 26, 56


def build(owner, count=40):
    experiment = make_configured_experiment(owner, name="sweep", status="FINISHED", parameter_config=PARAMETERS)
    make_configured_jobs(
        experiment,
        [
            ({"lr": 10 ** -(1 + i % 4), "batch_size": (32, 64, 128)[i % 3], "dropout": round(0.5 * i / count, 3)},
             round((i + 1) / count, 4))
            for i in range(count)
        ],
    )
    return experiment


def brush_of(url):
    return {key: values[0] for key, values in parse_qs(urlparse(url).query).items() if key.startswith("b.")}


def table_rows(page):
    return page.locator("#jobs tbody tr").count()


def test_it_filters_the_table_and_charts_by_a_brush_that_lives_in_the_url(page, login):
    alice = login("alice")
    experiment = build(alice)
    charts_requests = []
    page.on("request", lambda request: charts_requests.append(unquote(request.url)) if "charts.json" in request.url else None)
    page.goto(f"/experiments/{experiment.pk}/")
    page.wait_for_selector("#parcoords[data-drawn='40']")
    assert page.inner_text("#parcoords-count") == "40 jobs, no brush"
    assert table_rows(page) == 25

    # Drag along the score axis (the last one) over its upper half: the better jobs.
    # (Once the importance panel above has loaded: it moves the chart down when it does.)
    page.wait_for_selector("#importance[aria-busy=false]")
    page.locator("#parcoords canvas").scroll_into_view_if_needed()
    box = page.locator("#parcoords canvas").bounding_box()
    x = box["x"] + box["width"] - RIGHT
    top, bottom = box["y"] + TOP, box["y"] + box["height"] - BOTTOM
    page.mouse.move(x, top + 2)
    page.mouse.down()
    page.mouse.move(x, (top + bottom) / 2 - 20, steps=5)
    page.mouse.move(x, (top + bottom) / 2, steps=5)
    page.mouse.up()

    # The URL carries the brush: the score's lower bound, open above.
    wait_until(page, "() => new URLSearchParams(location.search).has('b.@score')")
    brush = brush_of(page.url)
    low, high = brush["b.@score"].split("..")
    assert high == "" and 0.4 < float(low) < 0.65
    inside = [number for number in range(1, 41) if round(number / 40, 4) >= float(low)]

    # The jobs table follows (filtered on the server, with its count), and says so.
    page.wait_for_selector("#jobs-brush")
    assert page.inner_text("#jobs-title .muted") == str(len(inside))
    assert table_rows(page) == min(len(inside), 25)
    numbers = [int(n) for n in page.locator("#jobs tbody tr td a[id^=job-link]").all_inner_texts()]
    assert set(numbers) <= set(inside)
    wait_until(page, f"() => document.querySelector('#parcoords-count').textContent === '{len(inside)} of 40 jobs in the brush'")
    # ... and the page's live region says it once, for those who do not see the chart.
    wait_until(page, f"() => document.querySelector('#announcer').textContent === '{len(inside)} of 40 jobs in the brush.'")

    # The charts asked for the brushed jobs again (the server draws those only: tests/test_views_parcoords.py).
    assert any("b.@score=" + low in url for url in charts_requests), charts_requests

    # Sorting the table keeps the brush in the URL (and the brush keeps filtering it).
    page.click("#sort-score")
    page.wait_for_url(re.compile(r"sort=-score"))
    assert brush_of(page.url) == brush
    assert page.locator("#jobs tbody tr td a[id^=job-link]").first.inner_text() == "40"

    # A reload restores the brush: the chart, its count, the form and the table.
    page.reload()
    page.wait_for_selector("#parcoords[data-drawn='40']")
    assert page.inner_text("#parcoords-count") == f"{len(inside)} of 40 jobs in the brush"
    assert page.is_enabled("#parcoords-clear")
    assert page.inner_text("#jobs-title .muted") == str(len(inside))
    # The history chart draws the jobs inside the brush only (its table lists them).
    wait_until(page, f"() => document.querySelectorAll('#history-table tbody tr').length === {len(inside)}")

    # With the keyboard: tick a category of batch_size and apply; the brush adds up.
    page.click("#parcoords summary:has-text('Axes and brush')")
    page.check("fieldset.pc-axis:has(legend:text-is('batch_size')) input[value='64']")
    page.click("#parcoords-apply")
    wait_until(page, "() => new URLSearchParams(location.search).get('b.batch_size') === 'in:64'")
    both = [n for n in inside if (n - 1) % 3 == 1]
    wait_until(page, f"() => document.querySelector('#jobs-title .muted').textContent === '{len(both)}'")
    assert brush_of(page.url)["b.@score"] == brush["b.@score"]

    # A click on the score axis clears its brush; "Clear brush" clears the rest. (Where
    # the chart is now: the reload laid the page out again.)
    page.wait_for_selector("#importance[aria-busy=false]")
    page.locator("#parcoords canvas").scroll_into_view_if_needed()
    box = page.locator("#parcoords canvas").bounding_box()
    x = box["x"] + box["width"] - RIGHT
    top, bottom = box["y"] + TOP, box["y"] + box["height"] - BOTTOM
    page.mouse.click(x, (top + bottom) / 2)
    wait_until(page, "() => !new URLSearchParams(location.search).has('b.@score')")
    page.click("#parcoords-clear")
    wait_until(page, "() => ![...new URLSearchParams(location.search).keys()].some((key) => key.startsWith('b.'))")
    wait_until(page, "() => document.querySelector('#jobs-brush') === null")
    assert page.inner_text("#jobs-title .muted") == "40"


def test_it_moves_and_hides_axes_and_keeps_them_in_the_url(page, login):
    alice = login("alice")
    experiment = build(alice, count=6)
    page.goto(f"/experiments/{experiment.pk}/?sort=score")
    page.wait_for_selector("#parcoords[data-drawn='6']")
    page.click("#parcoords summary:has-text('Axes and brush')")
    page.click("#pc-0-right")  # lr after batch_size
    page.uncheck("#pc-2-show")  # hide dropout
    wait_until(page, "() => new URLSearchParams(location.search).get('axes') === 'batch_size,lr,-dropout,@score'")
    assert "sort=score" in page.url
    page.reload()
    page.wait_for_selector("#parcoords[data-drawn='6']")
    legends = page.locator("fieldset.pc-axis legend").all_text_contents()
    assert legends == ["batch_size", "lr", "dropout", "score (objective)"]
    assert not page.is_checked("#pc-2-show")
    assert "over batch_size, lr, score" in page.text_content("#parcoords-summary")

    # With the mouse: drag the score axis' title to the far left.
    page.locator("#parcoords canvas").scroll_into_view_if_needed()
    box = page.locator("#parcoords canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] - RIGHT, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20, steps=5)
    page.mouse.move(box["x"] + 10, box["y"] + 20, steps=5)
    page.mouse.up()
    wait_until(page, "() => new URLSearchParams(location.search).get('axes') === '@score,batch_size,lr,-dropout'")
    assert "over score, batch_size, lr" in page.text_content("#parcoords-summary")
