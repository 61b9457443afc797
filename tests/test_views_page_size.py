"""Every page's size is bounded whatever an experiment holds (issue 12, defect 8).

Existing data and imports may hold far more labels, parameters or configuration keys
than may be recorded now: the experiment page, its polled fragments, its chart JSON,
a job's page and chart, and the admin's change pages show a bounded part of them
(tracking/views.py: MAX_LABEL_COLUMNS, MAX_CONFIG_ENTRIES, MAX_VALUE_CHARS;
tracking/admin.py: ADMIN_LABELS_SHOWN, ADMIN_CONFIG_CHARS), with a note saying how
many are not shown and where to read them all.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_jobs, make_user
from tracking.models import Experiment, JobAttempt, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db

# The largest page of an experiment of a few jobs, whatever its size.
MAX_PAGE_BYTES = 200_000


def make_big_experiment(owner, size, name):
    """A running experiment of `size` labels, parameters, other settings and job config
    keys, with 3 jobs holding a final value for every label, the first of `size` attempts."""
    names = [f"label-{index:06d}" for index in range(size)]
    config = {
        "name": name,
        "target": "max",
        "proposer": "random",
        "parameter_config": [{"name": f"p{index:06d}", "type": "float", "range": [0, 1]} for index in range(size)],
        "resource_args": {"multi_res_labels": names},
        **{f"setting-{index:06d}": "x" * 20 for index in range(size)},
    }
    experiment = Experiment.objects.create(
        owner=owner, name=name, config=config, status="RUNNING", start_time=timezone.now()
    )
    ResultLabel.objects.bulk_create(
        ResultLabel(experiment=experiment, label_order=order, name=label) for order, label in enumerate(names, start=1)
    )
    jobs = make_jobs(experiment, 3, steps=2, status="RUNNING")
    now = timezone.now()
    for job in jobs:
        job.config = {f"p{index:06d}": index / size for index in range(size)}
        job.save(update_fields=["config"])
        MultipleResult.objects.bulk_create(
            MultipleResult(job=job, experiment=experiment, label_order=order, value=0.5, is_last=True, receive_time=now)
            for order in range(1, size + 1)
        )
    JobAttempt.objects.bulk_create(
        JobAttempt(job=jobs[0], number=number, start_time=now, end_time=now) for number in range(1, size)
    )
    experiment.error_msg = "e" * (60 * size)
    experiment.save(update_fields=["error_msg"])
    return experiment, jobs[0]


def urls(experiment, job):
    """(what, path, headers) of every page that shows an experiment's labels or config."""
    eid, jid = experiment.pk, job.pk
    return [
        ("experiment page", f"/experiments/{eid}/", {}),
        ("summary fragment", f"/experiments/{eid}/", {"HX-Request": "true", "HX-Target": "summary"}),
        ("jobs fragment", f"/experiments/{eid}/", {"HX-Request": "true", "HX-Target": "jobs"}),
        ("charts.json", f"/experiments/{eid}/charts.json", {}),
        # A label past the shown ones as the objective (charts part, issue 13).
        ("experiment page by a label", f"/experiments/{eid}/?objective=400", {}),
        ("charts.json by a label", f"/experiments/{eid}/charts.json?objective=400", {}),
        ("job page", f"/jobs/{jid}/", {}),
        ("job summary fragment", f"/jobs/{jid}/", {"HX-Request": "true", "HX-Target": "job-summary"}),
        ("job chart", f"/jobs/{jid}/chart.json", {}),
        ("admin experiment", f"/admin/tracking/experiment/{eid}/change/", {}),
        ("admin job", f"/admin/tracking/job/{jid}/change/", {}),
        ("admin labels", f"/admin/tracking/resultlabel/?experiment__id__exact={eid}", {}),
    ]


def measure(client, experiment, job):
    """{what: (status, bytes, queries)} of every page."""
    measured = {}
    for what, path, headers in urls(experiment, job):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, headers=headers)
        measured[what] = (response.status_code, len(response.content), len(queries))
    return measured


def test_it_bounds_every_page_whatever_the_number_of_labels(client):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    small_experiment = make_big_experiment(root, 500, "small")
    measure(client, *small_experiment)  # the first requests fill per-process caches (content types)
    small = measure(client, *small_experiment)
    big = measure(client, *make_big_experiment(root, 3000, "big"))
    for what in small:
        small_status, small_bytes, small_queries = small[what]
        big_status, big_bytes, big_queries = big[what]
        assert small_status == big_status == 200, what
        assert big_bytes < MAX_PAGE_BYTES, f"{what}: {big_bytes} bytes"
        # The same page, whatever the number of labels: a few counts in its notes differ.
        assert big_bytes - small_bytes < 500, f"{what}: {small_bytes} bytes at 500 labels, {big_bytes} at 3,000"
        assert big_queries == small_queries, f"{what}: {small_queries} queries at 500 labels, {big_queries} at 3,000"


def test_it_says_how_many_labels_are_not_shown_and_where_to_read_them(client):
    root = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(root)
    experiment, job = make_big_experiment(root, 30, "search")
    page = client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "The first 20 of 30 labels are shown as columns; 10 more are not." in page
    assert f"/api/experiments/{experiment.pk}/" in page
    assert "label-000019" in page and "label-000020" not in page
    assert "The first 50 of 30" not in page and "The first 50 of 30 parameters" not in page
    job_page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "The first 20 of 30 labels" in job_page
    admin = client.get(f"/admin/tracking/experiment/{experiment.pk}/change/").content.decode()
    assert f"/admin/tracking/resultlabel/?experiment__id__exact={experiment.pk}" in admin
    assert "30 label(s) in the admin" in admin
    # A label past the first 20 is still drawn on demand, by its number.
    payload = client.get(f"/experiments/{experiment.pk}/charts.json", {"series": "25"}).json()
    assert payload["series"]["name"] == "label-000024"
