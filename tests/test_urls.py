"""One URL scheme: every page and API endpoint in the namespace `tracking`, one parameter
name per kind of object, and the paths they always had."""

import inspect
import re

import pytest
from django.urls import get_resolver, reverse

from tests.factories import make_experiment, make_job, make_share, make_user
from tests.test_access import walk
from tracking import compare, controls, directions, exports, notes_pages, views

pytestmark = pytest.mark.django_db

# The one spelling of each object's id in a path (tracking/urls.py), and the API's
# catch-all 404 (`url`).
SPELLINGS = {"eid", "jid", "rid", "share_id", "token_id", "url"}
# -- issue 13: a label is named by its order within its experiment (api/.../labels/<order>/)
SPELLINGS |= {"order"}


def test_it_puts_every_page_and_endpoint_in_the_tracking_namespace():
    names = [name for name, regex, pattern in walk(get_resolver().url_patterns) if not regex.startswith("admin/")]
    # Only the API's catch-all 404 has no name; login and logout are Django's own, and
    # the favicon's redirect is the site's, no page of tracking's.
    assert {name for name in names if not (name or "").startswith("tracking:")} == {None, "login", "logout", "favicon"}
    assert {
        "tracking:experiment-list",
        "tracking:experiment",
        "tracking:experiment-charts",
        "tracking:experiment-stop",
        "tracking:experiment-restart",
        "tracking:experiment-delete",
        "tracking:experiment-share",
        "tracking:experiment-unshare",
        "tracking:job",
        "tracking:job-chart",
        "tracking:resource-list",
        "tracking:api-experiments",
        "tracking:api-experiment",
        "tracking:api-job",
        "tracking:api-resource",
        "tracking:api-schema",
    } <= set(names)


# Not views, though called with a request: the one reading of a page's query values,
# shared by the page and its exports, and the exports' answers, shared by the pages'
# links and the API (tracking/exports.py).
NOT_VIEWS = {"table_jobs", "listed_experiments", "jobs_export", "experiments_export"}


def test_it_routes_every_page_view():
    # So that tests/test_access.py, which walks the URLconf, checks every page.
    routed = {pattern.callback for name, regex, pattern in walk(get_resolver().url_patterns)}
    for module in (views, controls, compare, directions, exports, notes_pages):
        for name, function in vars(module).items():
            if name in NOT_VIEWS:
                continue
            if inspect.isfunction(function) and function.__module__ == module.__name__ and not name.startswith("_"):
                if next(iter(inspect.signature(function).parameters)) == "request":
                    assert function in routed, f"{module.__name__}.{name} has no URL"


def test_it_spells_each_objects_id_one_way_in_every_path():
    parameters = set()
    for name, regex, pattern in walk(get_resolver().url_patterns):
        if not regex.startswith("admin/"):
            parameters |= set(re.findall(r"\(\?P<(\w+)>", regex))
    assert parameters == SPELLINGS


@pytest.mark.parametrize(
    "name, kwargs, path",
    [
        ("tracking:experiment-list", {}, "/"),
        ("tracking:experiment", {"eid": 7}, "/experiments/7/"),
        ("tracking:experiment-charts", {"eid": 7}, "/experiments/7/charts.json"),
        # -- parallel coordinates (issue 13)
        ("tracking:experiment-parcoords", {"eid": 7}, "/experiments/7/parcoords.json"),
        ("tracking:experiment-stop", {"eid": 7}, "/experiments/7/stop/"),
        ("tracking:experiment-restart", {"eid": 7}, "/experiments/7/restart/"),
        ("tracking:experiment-delete", {"eid": 7}, "/experiments/7/delete/"),
        ("tracking:experiment-share", {"eid": 7}, "/experiments/7/share/"),
        ("tracking:experiment-unshare", {"eid": 7, "share_id": 3}, "/experiments/7/share/3/remove/"),
        ("tracking:experiment-jobs-csv", {"eid": 7}, "/experiments/7/jobs.csv"),
        ("tracking:experiment-jobs-json", {"eid": 7}, "/experiments/7/jobs.json"),
        ("tracking:experiment-list-csv", {}, "/experiments.csv"),
        ("tracking:experiment-list-json", {}, "/experiments.json"),
        ("tracking:api-experiments-export", {}, "/api/experiments/export/"),
        ("tracking:api-experiment-jobs-export", {"eid": 7}, "/api/experiments/7/jobs/export/"),
        ("tracking:job", {"jid": 9}, "/jobs/9/"),
        ("tracking:job-chart", {"jid": 9}, "/jobs/9/chart.json"),
        # notes and tags
        ("tracking:experiment-notes", {"eid": 7}, "/experiments/7/notes/"),
        ("tracking:experiment-tags", {"eid": 7}, "/experiments/7/tags/"),
        ("tracking:job-notes", {"jid": 9}, "/jobs/9/notes/"),
        ("tracking:resource-list", {}, "/resources/"),
        ("tracking:token-list", {}, "/tokens/"),
        ("tracking:token-revoke", {"token_id": 4}, "/tokens/4/revoke/"),
        ("tracking:api-experiments", {}, "/api/experiments/"),
        ("tracking:api-experiment-curves", {"eid": 7}, "/api/experiments/7/curves/"),
        ("tracking:api-job", {"jid": 9}, "/api/jobs/9/"),
        ("tracking:api-resource-take", {"rid": 2}, "/api/resources/2/take/"),
        ("tracking:api-token-revoke", {"token_id": 4}, "/api/tokens/4/revoke/"),
        ("tracking:api-schema", {}, "/api/schema/"),
        # compare (issue 13, item 5)
        ("tracking:experiment-compare", {}, "/experiments/compare/"),
        ("tracking:experiment-compare-jobs", {"eid": 7}, "/experiments/7/compare/"),
        ("tracking:api-experiments-compare", {}, "/api/experiments/compare/"),
        ("tracking:api-experiment-compare-jobs", {"eid": 7}, "/api/experiments/7/jobs/compare/"),
        # parallel-coordinates data in the API (issue 13)
        ("tracking:api-experiment-parcoords", {"eid": 7}, "/api/experiments/7/parcoords/"),
        ("login", {}, "/accounts/login/"),
        ("logout", {}, "/accounts/logout/"),
    ],
)
def test_it_keeps_every_path(name, kwargs, path):
    assert reverse(name, kwargs=kwargs) == path


def test_it_links_models_to_their_pages(alice):
    experiment = make_experiment(alice, "mine")
    job = make_job(experiment)
    assert experiment.get_absolute_url() == f"/experiments/{experiment.pk}/"
    assert job.get_absolute_url() == f"/jobs/{job.pk}/"


def current_section(client, path):
    html = client.get(path).content.decode()
    nav = html.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', nav)


def test_it_marks_the_section_of_the_page_in_the_main_nav(client, alice):
    experiment = make_experiment(alice, "mine", status="FINISHED")
    job = make_job(experiment, status="FINISHED")
    make_share(experiment, user=make_user("bob"))
    client.force_login(alice)
    assert current_section(client, "/") == ["Experiments"]
    assert current_section(client, f"/experiments/{experiment.pk}/") == ["Experiments"]
    assert current_section(client, f"/jobs/{job.pk}/") == ["Experiments"]
    assert current_section(client, "/resources/") == ["Resources"]
    # The control pages and a page that does not exist are in no section.
    assert current_section(client, f"/experiments/{experiment.pk}/delete/") == []
    assert current_section(client, f"/experiments/{experiment.pk}/share/") == []
    assert current_section(client, "/no-such-page/") == []


def test_it_names_the_site_once_in_every_page_title(client, alice):
    experiment = make_experiment(alice, "mine", status="FINISHED")
    job = make_job(experiment, status="FINISHED")
    titles = {}
    titles["/accounts/login/"] = re.search(r"<title>(.*)</title>", client.get("/accounts/login/").content.decode())[1]
    client.force_login(alice)
    pages = [
        "/",
        f"/experiments/{experiment.pk}/",
        f"/experiments/{experiment.pk}/stop/",
        f"/experiments/{experiment.pk}/restart/",
        f"/experiments/{experiment.pk}/delete/",
        f"/experiments/{experiment.pk}/share/",
        f"/jobs/{job.pk}/",
        "/resources/",
        "/no-such-page/",
    ]
    for path in pages:
        titles[path] = re.search(r"<title>(.*)</title>", client.get(path).content.decode())[1]
    assert titles == {
        "/accounts/login/": "Log in · aupsite",
        "/": "Experiments · aupsite",
        f"/experiments/{experiment.pk}/": "mine · aupsite",
        f"/experiments/{experiment.pk}/stop/": "Stop mine · aupsite",
        f"/experiments/{experiment.pk}/restart/": "Restart mine · aupsite",
        f"/experiments/{experiment.pk}/delete/": "Delete mine · aupsite",
        f"/experiments/{experiment.pk}/share/": "Share mine · aupsite",
        f"/jobs/{job.pk}/": f"Job {job.number} · mine · aupsite",
        "/resources/": "Resources · aupsite",
        "/no-such-page/": "Not found · aupsite",
    }
