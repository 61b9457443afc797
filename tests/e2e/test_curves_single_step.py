"""In the browser: a job that reported a single step is drawn as a dot in the learning
curves (experiment page and jobs comparison), where a line of one point drew nothing;
a curve of more points is a line, without dots."""

import pytest

from tests.browser import wait_until
from tests.factories import make_configured_experiment, make_jobs

pytestmark = pytest.mark.django_db(transaction=True)

# The canvas pixel at the centre of series `series`' first point of the chart
# window[name].u, [r, g, b, a]; and how many points its curve has.
PIXEL = """([name, series]) => {
  const u = window[name].u, ys = u.data[series];
  const i = ys.findIndex(v => v !== null && v !== undefined);
  const x = Math.round(u.valToPos(u.data[0][i], 'x', true)), y = Math.round(u.valToPos(ys[i], 'y', true));
  return {rgba: Array.from(u.ctx.getImageData(x, y, 1, 1).data), points: ys.filter(v => v !== null && v !== undefined).length};
}"""


def test_it_draws_a_single_step_curve_as_a_dot(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "one step", status="FINISHED")
    first, second = make_jobs(experiment, 2, steps=1)

    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u && window.aupsiteChart.u.series.length === 3")
    for series in (1, 2):
        drawn = page.evaluate(PIXEL, ["aupsiteChart", series])
        # An opaque dot: without it the point's place holds at most a faint grid line.
        assert drawn["points"] == 1 and drawn["rgba"][3] == 255, drawn

    page.goto(f"/experiments/{experiment.pk}/compare/?jobs={first.pk},{second.pk}")
    wait_until(page, "() => window.aupsiteCompareChart && window.aupsiteCompareChart.u")
    for series in (1, 2):
        drawn = page.evaluate(PIXEL, ["aupsiteCompareChart", series])
        assert drawn["points"] == 1 and drawn["rgba"][3] == 255, drawn


def test_it_draws_no_dots_along_a_curve_of_more_points(page, login):
    alice = login("alice")
    experiment = make_configured_experiment(alice, "one step", status="FINISHED")
    make_jobs(experiment, 1, steps=3)

    page.goto(f"/experiments/{experiment.pk}/")
    wait_until(page, "() => window.aupsiteChart && window.aupsiteChart.u && window.aupsiteChart.u.series.length === 2")
    # The points filter keeps no point of a curve of three: the line alone is drawn.
    assert page.evaluate("() => window.aupsiteChart.u.series[1].points.filter(window.aupsiteChart.u, 1, false, null)") is None
    assert page.evaluate(PIXEL, ["aupsiteChart", 1])["points"] == 3
