"""In the browser, charts.js names jobs by their number in the experiment: the legend
(uPlot's series labels), the hover line and the tables under the charts."""

import pytest

from tests.e2e.test_dashboard import wait_until
from tests.factories import make_configured_experiment, make_jobs, make_resources

pytestmark = pytest.mark.django_db(transaction=True)


def column(page, table_id):
    return page.eval_on_selector_all(f"#{table_id} tbody tr td:first-child", "cells => cells.map(c => c.textContent)")


def test_it_labels_the_charts_jobs_by_their_number(page, login):
    owner = login("alice")
    make_jobs(make_configured_experiment(owner, name="earlier"), 5)
    experiment = make_configured_experiment(owner, name="search", status="FINISHED", parameter_config=[{"name": "lr"}])
    [cpu] = make_resources(1)
    jobs = make_jobs(experiment, 3, steps=5, resource=cpu)

    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u && window.aupsiteChart.history")

    labels = page.evaluate("window.aupsiteChart.u.series.slice(1).map(s => s.label)")
    assert sorted(labels) == ["Job 1", "Job 2", "Job 3"]
    assert sorted(column(page, "curves-table")) == ["Job 1", "Job 2", "Job 3"]
    assert column(page, "history-table") == ["Job 1", "Job 2", "Job 3"]
    assert sorted(column(page, "params-table")) == ["Job 1", "Job 2", "Job 3"]

    # Hovering a curve names its job by number in the tooltip (its id is what a click opens).
    box = page.locator("#curves-chart .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    info = wait_until(page, "() => { const tip = document.querySelector('#curves-chart .chart-tip');"
                      " return tip && !tip.hidden && /^Job \\d/.test(tip.textContent) && tip.textContent; }")
    focused = page.evaluate("window.aupsiteChart.focused")
    assert info.startswith(f"Job {focused['number']}step ")
    assert {job.pk: job.number for job in jobs}[focused["id"]] == focused["number"]
    # The history's x axis is the job number, its click target the id.
    assert page.evaluate("window.aupsiteChart.history.data[0]") == [1, 2, 3]
