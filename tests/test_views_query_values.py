"""Query values of every page, fragment and chart JSON: one validated path, never a 500.

The walk requests every page URL of the URLconf (tracking:*, the API aside: it has
its own fuzz test) as the owner, who is staff (so the experiments list reads its
owner filter too), plain and as each htmx fragment, with every query name the pages
read set to each hostile value. Pages ignore a malformed value; the chart JSON
endpoints answer 400 with a message (tracking/views.py, "query values").
"""

from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone
from django.utils.regex_helper import normalize

from tests.factories import make_api_token, make_configured_experiment, make_jobs, make_share, make_user
from tests.test_access import walk

pytestmark = pytest.mark.django_db

# Every query name a page, fragment or JSON endpoint reads, and one it does not.
NAMES = ["q", "status", "sort", "owner", "page", "since", "select", "have", "series", "all", "history", "zzz"]

# Already percent-encoded: a Unicode digit and Arabic-Indic ones (str.isdigit() takes
# both), ids past 2**63 - 1, negative, empty, a NUL, a lone surrogate's UTF-8 bytes, a
# float overflow, and very long values.
HOSTILE = [
    quote("²"),
    quote("١٢"),
    "9223372036854775808",
    "99999999999999999999999",
    "-1",
    "",
    "%00",
    "1%00",
    "%ED%BF%BF",
    "1e999",
    "1,%C2%B2",
    ",,,",
    "9223372036854775807",
    "0",
    "1" * 5000,
    "x" * 20000,
    ",".join(["9"] * 3000),
]

FRAGMENTS = {"tracking:experiment": ["summary", "jobs"], "tracking:job": ["job-summary"]}


def is_page(name):
    return (name or "").startswith("tracking:") and not name.startswith("tracking:api-")


# The walk is one test per page URL and experiment status (some 7,000 requests per status
# in all), so that the suite's workers (make test: pytest-xdist) share it.
PAGE_NAMES = sorted({name for name, _, _ in walk(get_resolver().url_patterns) if is_page(name)})


def page_paths(experiment, job, share, token, only=None):
    """(name, path) of every page URL (or of those named `only`), its parameters filled
    with the owner's objects."""
    values = {"eid": experiment.pk, "jid": job.pk, "share_id": share.pk, "token_id": token.pk}
    for name, regex, _ in walk(get_resolver().url_patterns):
        if not is_page(name) or (only is not None and name != only):
            continue
        template, parameters = normalize(regex)[0]
        yield name, "/" + template % {parameter: values[parameter] for parameter in parameters}


def walk_hostile(client, experiment, job, share, token, only=None):
    failures, requests = [], 0
    for name, path in page_paths(experiment, job, share, token, only):
        for target in [None, *FRAGMENTS.get(name, [])]:
            headers = {"HX-Request": "true", "HX-Target": target, "HX-Trigger": target} if target else {}
            for query in NAMES:
                for value in HOSTILE:
                    url = f"{path}?{query}={value}"
                    response = client.get(url, headers=headers)
                    requests += 1
                    if response.status_code >= 500:
                        failures.append(f"GET {url[:120]} ({name}, target {target}): {response.status_code}")
            # Everything hostile at once.
            url = path + "?" + "&".join(f"{query}={HOSTILE[i % len(HOSTILE)]}" for i, query in enumerate(NAMES))
            if client.get(url, headers=headers).status_code >= 500:
                failures.append(f"GET {url[:120]} ({name}, target {target}): 500")
    return failures, requests


def test_it_walks_every_page_of_the_urlconf():
    """The walk's pages come from the URLconf: the main ones are among them."""
    assert {"tracking:experiment-list", "tracking:experiment", "tracking:job", "tracking:experiment-charts"} <= set(PAGE_NAMES)
    assert len(PAGE_NAMES) >= 20


@pytest.mark.parametrize("page", PAGE_NAMES)
@pytest.mark.parametrize("status", ["RUNNING", "FINISHED"])
def test_it_answers_no_500_to_hostile_query_values_on_any_page_or_fragment(status, page):
    cache.clear()
    owner = make_user("admin", is_staff=True)
    experiment = make_configured_experiment(owner, status=status, resource_args={"multi_res_labels": ["accuracy"]})
    if status != "RUNNING":
        experiment.end_time = timezone.now()
        experiment.save(update_fields=["end_time"])
    job = make_jobs(experiment, 3, steps=3, labels=1)[0]
    share = make_share(experiment, user=make_user("bob"))
    token = make_api_token(owner)
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    failures, requests = walk_hostile(client, experiment, job, share, token, only=page)
    assert failures == []
    # The walk did reach the page: every query name with every value, plain and as each fragment.
    assert requests >= len(NAMES) * len(HOSTILE) * (1 + len(FRAGMENTS.get(page, [])))


def test_it_ignores_malformed_values_on_pages_and_refuses_them_in_chart_json(client):
    owner = make_user("admin", is_staff=True)
    experiment = make_configured_experiment(owner, resource_args={"multi_res_labels": ["accuracy"]})
    job = make_jobs(experiment, 2, steps=2, status="RUNNING")[0]
    client.force_login(owner)
    # Pages: as if absent.
    assert client.get("/?owner=99999999999999999999999").status_code == 200
    assert client.get("/?owner=%C2%B2&page=%C2%B2&sort=%00").status_code == 200
    assert client.get(f"/experiments/{experiment.pk}/?page=9223372036854775808&status=%ED%BF%BF").status_code == 200
    # An id past 2**63 - 1 in a path is an unknown page.
    assert client.get("/experiments/99999999999999999999999/").status_code == 404
    assert client.get("/jobs/9223372036854775808/chart.json").status_code == 404
    # JSON: a 400 saying what was expected.
    charts = f"/experiments/{experiment.pk}/charts.json"
    for query, message in (
        (f"since={quote('²')}", "since must be a cursor"),
        ("since=9223372036854775808", "since must be a cursor"),
        ("select=9223372036854775808", "select must be a comma-separated list of ids"),
        ("have=-1", "have must be"),
        ("series=%00", "series must be"),
        ("history=%00", "history must be the history_version"),
        ("all=maybe", "all must be one of"),
    ):
        response = client.get(f"{charts}?{query}")
        assert response.status_code == 400, query
        assert message in response.json()["error"], query
    response = client.get(f"/jobs/{job.pk}/chart.json?since={quote('١٢')}")
    assert response.status_code == 400 and "since must be a cursor" in response.json()["error"]
    # Values from a previous answer still work.
    payload = client.get(charts).json()
    again = client.get(charts, {"since": payload["cursor"], "history": payload["history_version"], "select": job.pk})
    assert again.status_code == 200 and again.json()["history"] is None
