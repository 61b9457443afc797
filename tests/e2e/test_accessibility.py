"""The accessibility audit: axe-core in Chromium on every page and fragment state a
person reaches, light and dark. A serious or critical violation fails the test.

To audit a new page, add one line to PAGE_STATES: its name, its path (formatted with
the ids of the `site` fixture's objects), who looks at it (None: nobody logged in) and,
when the page needs it, what the person does before it counts as shown (`then`).

axe-core is vendored in tests/e2e/vendor/ (test-only: no static files finder reaches
tests/) and injected through page.evaluate of the file's text, which Chromium runs
outside the page's Content-Security-Policy (add_script_tag would be an inline script
the policy refuses). No bypass_csp: each page is audited under the policy it is
served with, as a person sees it, and a violation of the page's own still fails the
test through the page fixture's console check; only the reports of the <style> probe
axe itself inserts while it runs are set aside (audit()).

Dark mode: app.css follows prefers-color-scheme, set by the context's color_scheme.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.utils import timezone

from tests.browser import wait_until
from tests.factories import (
    make_configured_experiment,
    make_importance_experiment,  # issue 13
    make_experiment,
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
from tracking.models import Experiment, Job, ResultLabel
from tracking.views import JOBS_PER_PAGE

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
# What fails the test; "moderate" and "minor" findings (e.g. best practices about
# landmarks) are advice.
FAILING_IMPACTS = ("serious", "critical")
SCHEMES = ("light", "dark")
# Elements listed per rule in a failure's message (the count says how many more).
NODES_LISTED = 5
CHARTS_DRAWN = "() => window.aupsiteChart && window.aupsiteChart.u && document.querySelectorAll('canvas').length > 0"


def charts_drawn(page, site):
    wait_until(page, CHARTS_DRAWN)


def charts_settled(page, site):
    """charts.js has drawn what there is: curves, or the note saying there are none."""
    page.wait_for_selector("#curves-chart canvas, #curves-chart .empty-chart")


def job_chart_drawn(page, site):
    page.wait_for_selector("#job-chart canvas")


def tick_then_hold(page, swapped):
    """Wait for a tick of the page's clock to land (`swapped`: the id of the element its
    last refresh swaps), then hold the clock still, so that no swap happens while axe
    reads the page. Held right after a tick, no poll is in flight."""
    page.evaluate(
        "(id) => { window.__swapped = false;"
        " document.body.addEventListener('htmx:afterSettle', (e) => {"
        " if (e.detail.elt && e.detail.elt.id === id) window.__swapped = true; }); }",
        swapped,
    )
    wait_until(page, "() => window.__swapped")
    page.hold_clock()


def live_fragments_loaded(page, site):
    """The running experiment as it stays on screen: charts drawn, and the summary, the
    jobs table and the charts refreshed by a tick of the clock."""
    charts_drawn(page, site)
    tick_then_hold(page, "jobs")
    assert page.locator("#jobs[hx-trigger]").count() == 1  # still live


def clock_ticked(page, site):
    """A running experiment with nothing to draw yet: the summary and the jobs table
    refreshed by a tick of the clock, then held."""
    tick_then_hold(page, "jobs")


def job_live(page, site):
    job_chart_drawn(page, site)
    tick_then_hold(page, "job-summary")


def jobs_filtered_and_sorted(page, site):
    """The jobs table after a status filter and a sort, both swapped in by htmx."""
    live_fragments_loaded(page, site)
    page.click("#filter-finished")
    page.wait_for_url("**status=FINISHED*")
    page.wait_for_selector("#filter-finished[aria-current=true]")
    page.click("#sort-score")
    page.wait_for_url("**sort=*score*")


def jobs_paged(page, site):
    charts_drawn(page, site)
    page.wait_for_selector("#jobs .pagination [rel=prev]")


def user_menu_open(page, site):
    page.click(".usermenu summary")
    page.wait_for_selector(".usermenu-panel", state="visible")


def share_form_refused(page, site):
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status
    page.click("button.primary")
    page.wait_for_selector(".errorlist")


def login_refused(page, site):
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not the password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector(".alert")


def token_issued(page, site):
    page.fill("#id_name", "gpu box")
    with page.expect_navigation():
        page.click("button.primary")
    page.wait_for_selector("#token-export")


def token_refused(page, site):
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status
    with page.expect_navigation():
        page.click("button.primary")  # no name
    page.wait_for_selector("#name-errors")


# -- issue 13, part 2: the importance panel, loaded after the page (its own request)
def importance_loaded(page, site):
    page.wait_for_selector("#importance[aria-busy=false]")


def importance_loaded_held(page, site):
    """A running experiment's panel, loaded and refreshed on a tick of the clock, held."""
    importance_loaded(page, site)
    tick_then_hold(page, "importance")


# -- end of issue 13, part 2


def api_docs_drawn(page, site):
    page.wait_for_selector("#swagger-ui .opblock")


def reset_confirmation(page, site):
    page.check(f"input[name=_selected_action][value='{site['ended']}']")
    page.select_option("select[name=action]", "reset_experiments")
    with page.expect_navigation():
        page.click("button[name=index]")


# -- compare (issue 13, item 5)
def compare_drawn(page, site):
    page.wait_for_selector("#compare-chart canvas")


def compare_experiments_drawn(page, site):
    page.wait_for_selector("#compare-index-chart canvas")
    page.wait_for_selector("#compare-time-chart canvas")


def compare_picks_refused(page, site):
    """One job picked on the live page, and Compare pressed: the bar says why not."""
    live_fragments_loaded(page, site)
    page.check("#jobs input[name=jobs]")
    page.click("#compare-go")
    page.wait_for_selector("#compare-problem:not(:empty)")


def compare_experiments_refused(page, site):
    """One experiment picked in the list, and Compare selected pressed: the page says why."""
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status
    page.check(f"#compare-experiment-{site['running']}")
    with page.expect_navigation():
        page.click("#compare-experiments-go")
    page.wait_for_selector("#compare-error")
# -- end compare
# -- notes and tags (issue 13, item 7) --


def notes_previewed(page, site):
    """The notes editor open, with a preview of what was typed."""
    page.click("#notes summary")
    page.fill("#notes-text", "# Findings\n\n*lr* matters:\n\n| lr | score |\n|---|---|\n| 0.01 | 0.9 |")
    page.click("#notes button[name=preview]")
    page.wait_for_selector("#notes .notes-preview h3")


def notes_refused(page, site):
    """Notes too long (set past the textarea's maxlength, as a script could), refused."""
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status
    page.click("#notes summary")
    page.evaluate("() => { document.querySelector('#notes-text').value = 'x'.repeat(20001); }")
    page.click("#notes button.primary")
    page.wait_for_selector("#notes-error")


def tag_refused(page, site):
    page.expected_problems.append("400 (Bad Request)")  # the refusal's status
    page.fill("#tag-add", "not/a/tag")
    page.click("#tags .tag-add button")
    page.wait_for_selector("#tag-error")


# -- end of notes and tags --
# -- parallel coordinates (issue 13)
def parcoords_drawn(page, site):
    """The parallel coordinates drawn, with their keyboard form and table opened."""
    charts_drawn(page, site)
    page.wait_for_selector("#parcoords[data-drawn]")
    for summary in page.locator("#parcoords details > summary").all():
        summary.click()
    page.wait_for_selector("#parcoords-form fieldset.pc-axis")


def parcoords_brushed(page, site):
    """A brushed view: the jobs table filtered and saying so."""
    parcoords_drawn(page, site)
    page.wait_for_selector("#jobs-brush")
# -- end parallel coordinates


# Violations in code that is not ours, each with why it stays: (rule, a pattern of
# axe's target), matched on those elements only, so that the same rule anywhere else
# still fails. All are Django 5.2's own admin markup, which our admin classes only use.
KNOWN_VIOLATIONS = [
    # admin/js/SelectFilter2.js: the search icon of a filter_horizontal widget (a
    # group's or a user's permissions) is a <span> with an aria-label and no role;
    # the field's label is beside it.
    ("aria-prohibited-attr", r"\.search-label-icon"),
    # AdminSplitDateTime (a user's last login, date joined): its date and time inputs
    # are captioned by text, not by <label>s.
    ("label", r"^#id_\w+_[01]$"),
    # A TabularInline (an experiment's shares): the "Delete?" column header names the
    # rows' delete checkboxes, and the autocomplete (select2) of a foreign key left
    # empty has no name of its own.
    ("label", r"^#id_\w+-\d+-DELETE$"),
    ("aria-input-field-name", r"select2"),
]


@dataclass(frozen=True)
class PageState:
    name: str
    path: str
    user: str | None = "alice"
    then: Callable | None = None


PAGE_STATES = [
    PageState("experiment list", "/"),
    PageState("experiment list filtered", "/?q=sweep&status=RUNNING"),
    PageState("experiment list, no match", "/?q=no+such+experiment"),
    PageState("experiment list, no experiment yet", "/", user="carol"),
    PageState("experiment list as staff", "/", user="root"),
    PageState("user menu open", "/", then=user_menu_open),
    PageState("experiment running, live", "/experiments/{running}/", then=live_fragments_loaded),
    PageState("experiment running, jobs filtered and sorted", "/experiments/{running}/", then=jobs_filtered_and_sorted),
    PageState("experiment running, no job of a status", "/experiments/{running}/?status=EARLY_STOPPED", then=live_fragments_loaded),
    PageState("experiment ended", "/experiments/{ended}/", then=charts_drawn),
    # charts part (issue 13): the objective chooser, the contour, the view from the URL.
    PageState("experiment running, by a labeled objective, contour of two chosen parameters",
              "/experiments/{running}/?objective=1&cx=optimizer&cy=lr", then=live_fragments_loaded),
    PageState("experiment ended, its chart view from the URL", "/experiments/{ended}/?logy=1&all=1&zoom=1,3", then=charts_drawn),
    PageState("experiment failed, with its error", "/experiments/{failed}/", then=charts_settled),
    PageState("experiment, jobs on a second page", "/experiments/{paged}/?page=2", then=jobs_paged),
    PageState("job running", "/jobs/{running_job}/", then=job_live),
    PageState("job ended, retried", "/jobs/{retried_job}/", then=job_chart_drawn),
    PageState("experiment waiting for an executor", "/experiments/{waiting}/", then=clock_ticked),
    PageState("experiment without a sign of life, as its owner", "/experiments/{quiet}/", then=clock_ticked),
    PageState("experiment without a sign of life, as staff", "/experiments/{quiet}/", user="root", then=clock_ticked),
    PageState("confirm reset, as staff", "/experiments/{quiet}/reset/", user="root"),
    PageState("resources", "/resources/"),
    PageState("API tokens", "/tokens/"),
    PageState("API token issued", "/tokens/", then=token_issued),
    PageState("API token refused", "/tokens/", then=token_refused),
    PageState("confirm token revoke", "/tokens/{token}/revoke/"),
    PageState("share", "/experiments/{running}/share/"),
    PageState("share, refused", "/experiments/{running}/share/", then=share_form_refused),
    PageState("confirm stop", "/experiments/{running}/stop/"),
    PageState("confirm restart", "/experiments/{ended}/restart/"),
    PageState("confirm delete", "/experiments/{ended}/delete/"),
    PageState("control refused", "/experiments/{running}/delete/"),
    PageState("login", "/accounts/login/", user=None),
    PageState("login refused", "/accounts/login/", user=None, then=login_refused),
    PageState("not found", "/experiments/999999/"),
    PageState("API docs", "/api/docs/", then=api_docs_drawn),
    # compare (issue 13, item 5)
    PageState("compare jobs", "/experiments/{running}/compare/?jobs={compare_jobs}", then=compare_drawn),
    PageState("compare jobs, picks refused", "/experiments/{running}/", then=compare_picks_refused),
    PageState("compare experiments", "/experiments/compare/?ids={running},{ended},{failed}", then=compare_experiments_drawn),
    PageState("compare experiments, refused", "/", then=compare_experiments_refused),
    PageState("admin index", "/admin/", user="root"),
    PageState("admin: add resources in bulk", "/admin/tracking/resource/add-bulk/", user="root"),
    PageState("admin: reset an experiment", "/admin/tracking/experiment/", user="root", then=reset_confirmation),
    # -- issue 13, parts 2 and 3: importance ranked and not (too few jobs), for the score
    # and a label, and the labels' directions as a form (owner) and read-only (a reader).
    PageState("experiment, importance ranked, directions form", "/experiments/{ranked}/", then=importance_loaded),
    PageState("experiment, importance of a label", "/experiments/{ranked}/?objective=1", then=importance_loaded),
    PageState("experiment, importance and directions, as a reader", "/experiments/{ranked}/", user="carol", then=importance_loaded),
    PageState("experiment, importance needs more jobs", "/experiments/{ended}/", then=importance_loaded),
    PageState("experiment running, importance refreshed", "/experiments/{ranked_live}/", then=importance_loaded_held),
    # -- issue 13, ui: best first, a recovered crash, a failed job's reason --
    PageState("experiment list, best first", "/?sort=-best"),
    PageState("experiment with a recovered error", "/experiments/{recovered}/", then=charts_drawn),
    PageState("job failed, no reason recorded", "/jobs/{failed_job}/", then=job_chart_drawn),
    PageState("job failed, its reason recorded", "/jobs/{failed_named_job}/", then=job_chart_drawn),
    # -- notes and tags (issue 13, item 7); "experiment ended" shows its notes and tags to its owner.
    PageState("experiment notes and tags, as a reader", "/experiments/{ended}/", user="dave", then=charts_settled),
    PageState("experiment notes empty, edited with a preview", "/experiments/{failed}/", then=notes_previewed),
    PageState("experiment notes refused", "/experiments/{ended}/", then=notes_refused),
    PageState("experiment tag refused", "/experiments/{ended}/", then=tag_refused),
    PageState("job notes, as a reader", "/jobs/{retried_job}/", user="dave", then=job_chart_drawn),
    PageState("job notes edited with a preview", "/jobs/{retried_job}/", then=notes_previewed),
    PageState("experiment list filtered by tag", "/?tag=baseline"),
    PageState("notes on a page of their own", "/experiments/{ended}/notes/"),
    PageState("tags on a page of their own", "/experiments/{ended}/tags/"),
    # -- end of notes and tags
    # -- parallel coordinates (issue 13)
    PageState("parallel coordinates, no brush", "/experiments/{ended}/", then=parcoords_drawn),
    PageState("parallel coordinates, brushed", "/experiments/{ended}/?b.@score=0.5..&b.optimizer=in:sgd", then=parcoords_brushed),
]


def admin_key(model):
    """The name of the id of `model`'s first object in the `site` fixture's ids."""
    return f"{model._meta.app_label}_{model._meta.model_name}"


def admin_states():
    """A change list, an add form and a change form of every model in the admin, so that
    a model registered later is audited without a line here."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_staff=True, is_superuser=True, is_active=True)
    states = []
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        name = f"admin: {model._meta.verbose_name}"
        states.append(PageState(f"{name} list", base, user="root"))
        if model_admin.has_add_permission(request):  # rows an executor writes have no add form
            states.append(PageState(f"{name} add", f"{base}add/", user="root"))
        states.append(PageState(f"{name} change", f"{base}{{{admin_key(model)}}}/change/", user="root"))
    return states


ALL_STATES = PAGE_STATES + admin_states()


@pytest.fixture
def site():
    """A small site as a researcher sees it: alice's running, ended and failed
    experiments (jobs running, finished, failed, retried; curves and labels; a resource
    busy), shared with a group; carol has nothing; root is staff. Returns the ids the
    page states' paths name (and one object of every model in the admin)."""
    alice = make_user("alice")
    make_user("carol")
    root = make_user("root", is_staff=True, is_superuser=True)
    group = Group.objects.create(name="vision team")
    cpu, gpu = make_resource("cpu", "localhost"), make_resource("gpu", "0")
    parameters = [{"name": "lr", "range": [0.001, 0.1], "type": "float"}, {"name": "optimizer", "range": ["sgd", "adam"], "type": "choice"}]

    running = make_configured_experiment(
        alice, "live sweep", proposer="random", n_samples=8, parameter_config=parameters, script="train.py", resource="cpu",
        resource_args={"multi_res_labels": ["loss", "accuracy"]},
    )
    make_jobs(running, 3, steps=6, resource=cpu, labels=2)
    make_jobs(running, 1, steps=2, status="FAILED", score=None)
    running_job = make_recorded_job(running, resource=gpu, config={"lr": 0.05, "optimizer": "adam"})
    make_intermediate_results(running_job, [0.1, 0.2, 0.35])
    make_multiple_results(running_job, [0.5, 0.6])
    make_share(running, group=group)
    make_share(running, user=root)

    ended = make_configured_experiment(alice, "finished sweep", status="FINISHED", proposer="random", n_samples=4, parameter_config=parameters)
    jobs = make_jobs(ended, 4, steps=5, resource=cpu)
    Experiment.objects.filter(pk=ended.pk).update(end_time=jobs[0].end_time)
    retried_job = make_recorded_job(ended, resource=cpu, status="FINISHED", config={"lr": 0.02, "optimizer": "sgd"}, steps=4, score=0.4)
    retried_job.attempts.create(number=1, resource=gpu, start_time=retried_job.start_time, end_time=retried_job.start_time)

    paged = make_configured_experiment(alice, "wide sweep", status="FINISHED", parameter_config=parameters)
    make_jobs(paged, JOBS_PER_PAGE + 5, steps=2)

    failed = make_configured_experiment(alice, "broken sweep", status="FAILED", parameter_config=parameters)
    Experiment.objects.filter(pk=failed.pk).update(error_msg="Traceback: train.py exited with 1")
    make_jobs(failed, 2, status="FAILED", score=None, steps=1)

    # An experiment restarted or started with no job yet, and one whose executor died.
    waiting = make_configured_experiment(alice, "waiting sweep", parameter_config=parameters)
    quiet = make_experiment(alice, "crashed sweep", start_time=timezone.now() - timedelta(minutes=120))
    make_recorded_job(quiet, cpu, started=timezone.now() - timedelta(minutes=100))

    # -- issue 13, parts 2 and 3: experiments whose importance is ranked (one shared with
    # carol, who reads its labels' directions), one still running.
    ranked = make_importance_experiment(alice, jobs=40, name="ranked sweep")
    make_share(ranked, user=make_user("carol"))
    ranked_live = make_importance_experiment(alice, jobs=30, name="ranked live sweep", status="RUNNING")
    # -- end of issue 13

    # -- issue 13, ui: a crash retried and recovered (the error names a job that finished),
    # a failed job with no reason recorded, and one the error names. --
    recovered = make_configured_experiment(alice, "recovered sweep", status="FINISHED", parameter_config=parameters)
    crashed, _, unexplained = make_jobs(recovered, 3, steps=3, resource=cpu)
    crashed.attempts.create(number=1, resource=gpu, start_time=crashed.start_time, end_time=crashed.end_time)
    recovered.jobs.filter(pk=unexplained.pk).update(status="FAILED")
    Experiment.objects.filter(pk=recovered.pk).update(error_msg=f"job {crashed.number}: worker crashed; retried")
    failed_named = failed.jobs.order_by("pk").first()
    Experiment.objects.filter(pk=failed.pk).update(error_msg=f"job {failed_named.number}: train.py exited with 1")
    more_ids = {"recovered": recovered.pk, "failed_job": unexplained.pk, "failed_named_job": failed_named.pk}
    # Notes and tags (issue 13, item 7): the ended experiment and its retried job have
    # notes, the ended and the paged ones tags; dave reads the ended one.
    Experiment.objects.filter(pk=ended.pk).update(
        notes="# Findings\n\nThe *learning rate* matters; see [the paper](https://example.org/).\n\n"
        "- `lr=0.02` is best\n- adam is not\n\n> to check\n\n| lr | score |\n|---:|---|\n| 0.02 | 0.4 |"
    )
    Job.objects.filter(pk=retried_job.pk).update(notes="Retried on the **gpu** after a crash.")
    tag_experiment(ended, "baseline", "resnet 50")
    tag_experiment(paged, "baseline")
    make_share(ended, user=make_user("dave"))

    token, _ = make_token(alice)
    ids = {**more_ids, "ranked": ranked.pk, "ranked_live": ranked_live.pk, "waiting": waiting.pk, "quiet": quiet.pk, "token": token.pk, "running": running.pk, "ended": ended.pk, "failed": failed.pk, "running_job": running_job.pk, "retried_job": retried_job.pk, "paged": paged.pk}
    # compare (issue 13, item 5): two finished jobs and the running one, of the running experiment.
    ids["compare_jobs"] = ",".join(str(jid) for jid in [*running.jobs.filter(status="FINISHED").values_list("pk", flat=True)[:2], running_job.pk])
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").first()
        assert first is not None, f"the audit's site has no {model._meta.label} to open in the admin"
        ids[admin_key(model)] = first.pk
    assert ResultLabel.objects.exists() and token.pk
    return ids


def log_in(page, live_server, username):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )


def with_clock_hold(page):
    """page.hold_clock(): from then on the summary's polls are never answered, so the
    page's one clock stops (hx-sync drops every later tick) and nothing is swapped."""
    held = []

    def hold_polls(route):
        if held and route.request.headers.get("hx-target") in ("summary", "job-summary"):
            return  # left unanswered: the context closes with it
        route.fallback()

    page.route("**/*", hold_polls)
    page.hold_clock = lambda: held.append(True)


def audit(page):
    """axe-core's violations of the page as it is now, serious and critical only, less
    the KNOWN_VIOLATIONS."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    # Everything a person can open counts: the tables under the charts, the
    # configuration, the attempts (the user menu is a state of its own).
    page.evaluate("() => document.querySelectorAll('details:not(.usermenu)').forEach((d) => { d.open = true; })")
    before = len(page.problems)
    # preload: false: axe would copy the page's stylesheets into <style> elements of its
    # own, which the CSP refuses (only css-orientation-lock reads them; app.css has no
    # orientation query). The zero timeout lets the policy's reports of what axe still
    # injects (a <style> probe) arrive before they are told from the page's own.
    result = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations'], preload: false}).then((r) =>"
        " new Promise((done) => setTimeout(() => done(r.violations.map((v) => ({"
        " id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary}))}))), 0)))"
    )
    page.problems[before:] = [p for p in page.problems[before:] if not is_axe_style_probe(p)]
    violations = []
    for violation in result:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        nodes = [n for n in violation["nodes"] if not known(violation["id"], n["target"])]
        if nodes:
            violations.append({**violation, "nodes": nodes})
    return violations


def is_axe_style_probe(problem):
    return "Applying inline style violates" in problem or problem == "CSP violation: style-src-elem inline"


def known(rule, target):
    return any(rule == known_rule and re.search(pattern, target) for known_rule, pattern in KNOWN_VIOLATIONS)


def describe(violations):
    lines = []
    for violation in violations:
        nodes = violation["nodes"]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}, {len(nodes)} element(s)")
        for node in nodes[:NODES_LISTED]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"  {node['target']}: {summary}")
        if len(nodes) > NODES_LISTED:
            lines.append(f"  ... and {len(nodes) - NODES_LISTED} more")
    return "\n".join(lines)


@pytest.mark.parametrize("context_options", [{"color_scheme": scheme} for scheme in SCHEMES], ids=SCHEMES)
@pytest.mark.parametrize("state", ALL_STATES, ids=lambda state: state.name)
def test_it_finds_no_serious_accessibility_violation(page, live_server, site, state, context_options):
    with_clock_hold(page)
    if state.user:
        log_in(page, live_server, state.user)
    response = page.goto(state.path.format(**site))
    expected_status = 404 if state.name == "not found" else 200
    assert response.status == expected_status, f"{state.name}: {state.path} answered {response.status}"
    if state.then:
        state.then(page, site)
    violations = audit(page)
    assert violations == [], f"{state.name} ({context_options['color_scheme']}), {page.url}:\n{describe(violations)}"


@pytest.mark.parametrize("context_options", [{"color_scheme": "dark"}], ids=["dark"])
def test_it_audits_the_dark_scheme_as_the_stylesheet_draws_it(page, live_server, site, context_options):
    """The dark runs above really see the dark palette (app.css follows
    prefers-color-scheme, which the context's color_scheme sets)."""
    log_in(page, live_server, "alice")
    page.goto("/")
    background = "() => getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(background)
    page.emulate_media(color_scheme="light")
    assert page.evaluate(background) != dark


def test_it_fails_on_what_axe_calls_serious(page, live_server, site):
    """The audit itself: a page with a contrast too low and an unlabelled field is
    reported, rule by rule, with the element and axe's summary."""
    log_in(page, live_server, "alice")
    page.goto("/")
    # (A CSSOM colour, which the CSP allows, unlike a style attribute.)
    page.evaluate(
        "() => { const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'faint text';"
        " document.querySelector('main').append(p); p.style.setProperty('color', '#ccc');"
        " const i = document.createElement('input'); i.id = 'unlabelled'; document.querySelector('main').append(i); }"
    )
    violations = audit(page)
    message = describe(violations)
    assert {v["id"] for v in violations} >= {"color-contrast", "label"}, message
    assert "#faint" in message and "#unlabelled" in message and "contrast" in message


# Every element that moves: a CSS animation, or a transition of any length.
MOVING = (
    "() => [...document.querySelectorAll('*')].filter((e) => { const s = getComputedStyle(e);"
    " return s.animationName !== 'none' || s.transitionDuration.split(',').some((d) => parseFloat(d) > 0); })"
    ".map((e) => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))"
)


@pytest.mark.parametrize("context_options", [{"reduced_motion": "reduce"}], ids=["reduce"])
def test_it_moves_nothing_for_who_asks_for_less_motion(page, live_server, site, context_options):
    log_in(page, live_server, "alice")
    page.goto(f"/experiments/{site['running']}/")
    charts_drawn(page, site)
    assert page.locator(".live-dot").count() == 1  # still says it is live, without the pulse
    assert page.evaluate(MOVING) == []
    assert page.evaluate("() => document.getAnimations().length") == 0
    for path, drawn in ((f"/jobs/{site['running_job']}/", job_chart_drawn), ("/api/docs/", api_docs_drawn)):
        page.goto(path)
        drawn(page, site)
        assert page.evaluate(MOVING) == [], path


@pytest.mark.parametrize("context_options", [{"reduced_motion": "no-preference"}], ids=["no-preference"])
def test_it_keeps_the_live_pulse_for_everyone_else(page, live_server, site, context_options):
    """The other side of the rule above: without the preference the live dot pulses, so
    the reduce test sees the rule at work and not a page that never moved."""
    log_in(page, live_server, "alice")
    page.goto(f"/experiments/{site['running']}/")
    charts_drawn(page, site)
    assert "span.live-dot" in page.evaluate(MOVING)
    assert page.evaluate("() => document.getAnimations().length") > 0


def test_it_never_serves_the_audits_axe_core():
    """axe-core is for the tests only: no static files finder reaches tests/."""
    from django.contrib.staticfiles import finders

    tests = Path(__file__).resolve().parents[1]
    served = [
        Path(storage.path(path)).resolve()
        for finder in finders.get_finders()
        for path, storage in finder.list([])
    ]
    assert AXE.exists() and served
    assert [path for path in served if path.is_relative_to(tests)] == []
