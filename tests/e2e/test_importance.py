"""In the browser: the importance panel loads after the page, follows the page's
objective (aupsite:objective), and the owner sets a label's direction with the form."""

import pytest

from tests.factories import make_importance_experiment
from tracking.models import ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)


def panel_rows(page):
    return page.eval_on_selector_all("#importance tbody th", "cells => cells.map(c => c.textContent.trim().split(' ')[0])")


def test_it_loads_the_panel_and_follows_the_pages_objective(page, login):
    owner = login("alice")
    experiment = make_importance_experiment(owner)
    page.goto(f"/experiments/{experiment.pk}/")
    page.wait_for_selector("#importance[aria-busy=false] meter")
    assert panel_rows(page)[0] == "lr"
    assert "for score, higher is better" in page.inner_text("#importance-objective")

    # Another script (the charts' objective chooser) switches the page to the loss.
    page.evaluate("document.dispatchEvent(new CustomEvent('aupsite:objective', {detail: {key: '1'}}))")
    page.wait_for_function("() => /loss/.test(document.querySelector('#importance-objective').textContent)")
    assert panel_rows(page)[0] == "dropout"
    assert "lower is better (by default)" in page.inner_text("#importance-objective")


def test_it_saves_a_direction_from_the_form(page, login):
    owner = login("alice")
    experiment = make_importance_experiment(owner)
    page.goto(f"/experiments/{experiment.pk}/?objective=2")
    page.wait_for_selector("#importance[aria-busy=false] meter")
    assert panel_rows(page)[0] == "lr"
    page.click("#directions summary")
    page.select_option("#direction-2", "min")
    with page.expect_navigation():
        page.click("#directions button[type=submit]")
    assert ResultLabel.objects.get(experiment=experiment, label_order=2).direction == "min"
    assert "Directions saved" in page.inner_text(".messages")
    # Back on the page (the redirect drops the query): the score, then the margin, lower is better.
    page.goto(f"/experiments/{experiment.pk}/?objective=2")
    page.wait_for_selector("#importance[aria-busy=false] meter")
    assert panel_rows(page)[0] == "dropout"
