"""Every page on a 390 px wide phone (an iPhone 12 to 15: 390 x 844 CSS pixels): the
page itself never scrolls sideways. What is wider than the screen (a table of many
columns) scrolls inside its own wrapper (.table-wrap), the rest wraps.

The data is what makes pages wide: long experiment and resource names, a user name
longer than the top bar, many hyperparameters with long names and values, many labeled
results, a retried job with several attempts, a running job and a failed one.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.test_accessibility import log_in
from tests.factories import (
    make_configured_experiment,
    make_intermediate_results,
    make_jobs,
    make_multiple_results,
    make_recorded_job,
    make_resource,
    make_share,
    make_token,
    make_user,
    tag_experiment,
)
from tracking.models import Experiment, Job, JobAttempt

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
LONG_USER = "researcher_with_a_rather_long_name"
LABELS = [f"validation_metric_number_{n}" for n in range(8)]
PARAMETERS = {
    "learning_rate_of_the_first_optimizer": 0.000123456789,
    "dropout_probability_everywhere": 0.3333333,
    "optimizer_name_chosen_by_the_proposer": "adam_with_decoupled_weight_decay",
    "number_of_hidden_layers": 12,
    "batch_size_per_device": 256,
    "data_augmentation_policy": "randaugment_n2_m9_with_cutout",
    "warmup_steps": 10000,
    "label_smoothing": 0.1,
}


@pytest.fixture
def wide_site():
    """A site whose every page has something wide on it. Returns the paths to open."""
    user = make_user(LONG_USER)
    cpu = make_resource("cpu", "compute-node-with-a-very-long-host-name.example.org")
    gpu = make_resource("gpu", "0")
    parameter_config = [
        {"name": name, "range": [0.0001, 1.0] if isinstance(value, float) else [1, 10000], "type": "float"}
        for name, value in PARAMETERS.items()
    ]
    running = make_configured_experiment(
        user, "hyperparameter_search_of_a_transformer_on_imagenet_with_a_long_name",
        proposer="bayesian_optimization_proposer", n_samples=50, parameter_config=parameter_config,
        script="train_a_transformer_with_a_long_script_name.py", resource="gpu",
        resource_args={"multi_res_labels": LABELS},
    )
    make_jobs(running, 6, steps=4, resource=cpu, labels=len(LABELS))
    Job.objects.filter(experiment=running).update(config=PARAMETERS)
    failed_job = make_recorded_job(running, resource=cpu, status="FAILED", config=PARAMETERS)
    retried = make_recorded_job(running, resource=gpu, status="FINISHED", config=PARAMETERS, score=0.99)
    start = timezone.now() - timedelta(minutes=30)
    JobAttempt.objects.filter(job=retried).update(start_time=start, end_time=start + timedelta(minutes=5))
    for number in (1, 2, 3):
        JobAttempt.objects.create(
            job=retried, number=number, resource=cpu if number % 2 else gpu,
            start_time=start + timedelta(minutes=6 * number), end_time=start + timedelta(minutes=6 * number + 5),
        )
    make_intermediate_results(retried, [0.5, 0.7, 0.99])
    make_multiple_results(retried, [0.1 * n for n in range(len(LABELS))], is_last=True)
    running_job = make_recorded_job(running, resource=gpu, config=PARAMETERS)
    make_share(running, user=make_user("a_colleague_with_an_even_longer_user_name_than_that"))
    Experiment.objects.filter(pk=running.pk).update(
        error_msg="Traceback (most recent call last): " + "/a/very/long/path/to/the/training/script.py " * 5
    )
    ended = make_configured_experiment(user, "finished_search_with_another_long_name_for_the_list", status="FINISHED")
    make_jobs(ended, 3)
    token, _ = make_token(user, "the_token_of_the_gpu_box_in_the_basement_lab")
    eid, ended_id = running.pk, ended.pk
    # The analysis' own pages (issue 13): notes with a long line, tags, comparisons.
    Experiment.objects.filter(pk=eid).update(notes="A_note_with_a_word_longer_than_any_phone_" * 4 + "\n\n- and a list")
    tag_experiment(running, "a_rather_long_tag_for_the_transformers", "baseline")
    compared = ",".join(str(jid) for jid in (retried.pk, failed_job.pk, running_job.pk))
    return {
        "experiments list": "/",
        "experiments list sorted": "/?sort=-best",
        "experiment": f"/experiments/{eid}/",
        "job retried": f"/jobs/{retried.pk}/",
        "job failed": f"/jobs/{failed_job.pk}/",
        "job running": f"/jobs/{running_job.pk}/",
        "resources": "/resources/",
        "tokens": "/tokens/",
        "token revoke": f"/tokens/{token.pk}/revoke/",
        "share": f"/experiments/{eid}/share/",
        "stop": f"/experiments/{eid}/stop/",
        "restart refused": f"/experiments/{eid}/restart/",
        "restart": f"/experiments/{ended_id}/restart/",
        "delete": f"/experiments/{ended_id}/delete/",
        "not found": "/experiments/999999/",
        "experiment brushed": f"/experiments/{eid}/?b.number_of_hidden_layers=1..20&objective=1&cx=warmup_steps",
        "compare jobs": f"/experiments/{eid}/compare/?jobs={compared}",
        "compare experiments": f"/experiments/compare/?ids={eid},{ended_id}",
        "notes": f"/experiments/{eid}/notes/",
        "tags": f"/experiments/{eid}/tags/",
    }


PAGES = [
    "experiments list", "experiments list sorted", "experiment", "job retried", "job failed", "job running",
    "resources", "tokens", "token revoke", "share", "stop", "restart refused", "restart", "delete", "not found",
    "experiment brushed", "compare jobs", "compare experiments", "notes", "tags",
]


def page_width(page):
    return page.evaluate("() => document.documentElement.scrollWidth")


def too_wide(page):
    """The elements that stick out past the screen's right edge and are not inside a
    scrolling wrapper: what to fix when the page is too wide."""
    return page.evaluate(
        """(limit) => Array.from(document.querySelectorAll('body *'))
          .filter((e) => e.getBoundingClientRect().right > limit + 0.5 && !e.closest('.table-wrap, pre, .visually-hidden'))
          .slice(0, 8).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)""",
        PHONE["width"],
    )


@pytest.mark.parametrize("name", PAGES)
def test_it_never_scrolls_the_page_sideways_on_a_phone(page, live_server, wide_site, name):
    page.set_viewport_size(PHONE)
    log_in(page, live_server, LONG_USER)
    response = page.goto(wide_site[name])
    assert response.status == (404 if name == "not found" else 200)
    # The charts are drawn after the page loads, at the width of their card.
    if name in ("experiment", "experiment brushed"):
        page.wait_for_selector("#curves-chart canvas, #curves-chart .empty-chart")
        page.wait_for_selector("#history-chart canvas")
        page.wait_for_selector("#parcoords[data-drawn]")
        page.wait_for_selector("#importance[aria-busy=false]")
    elif name == "compare jobs":
        page.wait_for_selector("#compare-chart canvas")
    elif name == "job retried":
        page.wait_for_selector("#job-chart canvas")
    assert page_width(page) <= PHONE["width"], f"{name}: {page_width(page)} px wide; sticking out: {too_wide(page)}"


def test_it_never_scrolls_the_staff_pages_sideways_on_a_phone(page, live_server, wide_site):
    """Staff see more: an owner filter in the list, the reset page."""
    make_user("root_with_a_long_administrator_name", is_staff=True, is_superuser=True)
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "root_with_a_long_administrator_name")
    for path in ("/", wide_site["stop"].replace("/stop/", "/reset/")):
        assert page.goto(path).status == 200
        assert page_width(page) <= PHONE["width"], (path, too_wide(page))


def test_it_never_scrolls_the_login_page_sideways_on_a_phone(page, live_server):
    page.set_viewport_size(PHONE)
    page.goto("/accounts/login/")
    assert page_width(page) <= PHONE["width"], too_wide(page)


def test_it_scrolls_a_wide_table_inside_its_wrapper(page, live_server, wide_site):
    """The jobs table with its many columns is wider than the phone: it scrolls in its
    .table-wrap, which is no wider than the screen."""
    page.set_viewport_size(PHONE)
    log_in(page, live_server, LONG_USER)
    page.goto(wide_site["experiment"])
    wrap = page.locator("#jobs .table-wrap")
    sizes = wrap.evaluate("(e) => ({scroll: e.scrollWidth, client: e.clientWidth, right: e.getBoundingClientRect().right})")
    assert sizes["scroll"] > sizes["client"]
    assert sizes["right"] <= PHONE["width"]


def test_it_keeps_the_top_bar_readable_on_a_phone(page, live_server, wide_site):
    """Wrapped, not squeezed: the brand, the main links and the user menu do not
    overlap, and the opened user menu stays on the screen."""
    page.set_viewport_size(PHONE)
    log_in(page, live_server, LONG_USER)
    page.goto(wide_site["experiments list"])
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('.topbar .brand, .mainnav a, .usermenu summary'))
          .map((e) => { const r = e.getBoundingClientRect(); return [e.textContent.trim(), r.left, r.top, r.right, r.bottom]; })"""
    )
    assert len(boxes) == 4
    for index, (name, left, top, right, bottom) in enumerate(boxes):
        assert 0 <= left and right <= PHONE["width"], name
        for other, o_left, o_top, o_right, o_bottom in boxes[index + 1:]:
            overlap = left < o_right and o_left < right and top < o_bottom and o_top < bottom
            assert not overlap, f"{name} overlaps {other}"
    page.click(".usermenu summary")
    page.wait_for_selector(".usermenu-panel", state="visible")
    panel = page.locator(".usermenu-panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= PHONE["width"]
    assert page_width(page) <= PHONE["width"]
