"""Job numbers: 1, 2, 3, ... within each experiment, in the order its jobs started.

The connector and the importer assign them, migration 0010 numbers the jobs recorded
before it, a unique constraint keeps them apart. (Many writers at once:
tests/test_connector_concurrency.py.)
"""

import re
import sqlite3
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.api_support import client_for
from tests.factories import (
    make_configured_experiment,
    make_experiment,
    make_job,
    make_jobs,
    make_recorded_job,
    make_resources,
    make_user,
)
from tests.migration_support import migrate, migrate_to_latest
from tracking.connector import DjangoConnector
from tracking.interop import schema
from tracking.models import Job


@pytest.fixture
def connector():
    make_user("alice")
    connector = DjangoConnector()
    yield connector
    connector.close()


def numbers(eid):
    return list(Job.objects.filter(experiment_id=eid).order_by("pk").values_list("number", flat=True))


@pytest.mark.django_db
def test_it_numbers_each_experiments_jobs_from_1_in_the_order_they_start(connector):
    [cpu] = make_resources(1)
    first = connector.start_experiment("alice", {"name": "first"})
    second = connector.start_experiment("alice", {"name": "second"})

    for eid in (first, second, first, first, second):
        connector.start_job(eid, cpu.pk, {})
    connector.job_started(first, cpu.pk, {})

    assert numbers(first) == [1, 2, 3, 4]
    assert numbers(second) == [1, 2]
    assert [str(job) for job in Job.objects.filter(experiment_id=second).order_by("pk")] == ["Job 1", "Job 2"]


@pytest.mark.django_db
def test_it_numbers_a_restarted_experiments_jobs_from_1_again(connector):
    [cpu] = make_resources(1)
    eid = connector.start_experiment("alice", {"name": "again"})
    connector.start_job(eid, cpu.pk, {})
    connector.start_job(eid, cpu.pk, {})

    connector.start_experiment_by_eid(eid)
    connector.start_job(eid, cpu.pk, {})

    assert numbers(eid) == [1]


@pytest.mark.django_db
def test_it_numbers_the_next_job_past_the_highest_when_one_was_deleted(connector):
    [cpu] = make_resources(1)
    eid = connector.start_experiment("alice", {"name": "gap"})
    jids = [connector.start_job(eid, cpu.pk, {}) for _ in range(3)]
    Job.objects.filter(pk=jids[1]).delete()

    connector.start_job(eid, cpu.pk, {})

    assert numbers(eid) == [1, 3, 4]


@pytest.mark.django_db
def test_it_numbers_a_job_in_its_insert_without_a_query_of_its_own(connector, django_assert_num_queries):
    [cpu] = make_resources(1)
    eid = connector.start_experiment("alice", {"name": "cost"})
    connector.job_started(eid, cpu.pk, {})
    with django_assert_num_queries(7) as queries:
        connector.job_started(eid, cpu.pk, {})
    # A savepoint (the test's transaction holds the connector's), the experiment exists
    # (PostgreSQL: locked FOR NO KEY UPDATE), the resource exists, the job with its
    # number, its attempt, the take, the savepoint's release.
    assert [query["sql"].split()[0] for query in queries.captured_queries] == [
        "SAVEPOINT", "SELECT", "SELECT", "INSERT", "INSERT", "UPDATE", "RELEASE",
    ]
    assert numbers(eid) == [1, 2]


@pytest.mark.django_db
def test_it_refuses_two_jobs_with_one_number_in_one_experiment():
    experiment = make_experiment(make_user("alice"))
    other = make_experiment(make_user("alice"), name="other")
    make_job(experiment, number=1)
    make_job(other, number=1)  # another experiment's job 1 is fine

    with pytest.raises(IntegrityError), transaction.atomic():
        make_job(experiment, number=1)


@pytest.mark.django_db
def test_it_numbers_imported_jobs_within_each_experiment_in_the_files_order(tmp_path):
    path = tmp_path / "sqlite3.db"
    with sqlite3.connect(path) as source:
        schema.create_schema(source)
        source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
        source.executemany(
            "INSERT INTO experiment (eid, uid, status, exp_config) VALUES (?, 1, 'FINISHED', ?)",
            [(1, '{"name": "a"}'), (2, '{"name": "b"}')],
        )
        # Interleaved, as two experiments running at once leave them.
        source.executemany(
            "INSERT INTO job (jid, eid, status) VALUES (?, ?, 'FINISHED')", [(7, 1), (8, 2), (9, 1), (12, 2), (15, 1)]
        )
    call_command("aup_import", str(path), stdout=StringIO(), stderr=StringIO())

    by_name = {
        name: list(Job.objects.filter(experiment__name=name).order_by("pk").values_list("number", flat=True))
        for name in ("a", "b")
    }
    assert by_name == {"a": [1, 2, 3], "b": [1, 2]}


BEFORE = [("tracking", "0009_resource_taken_by_attempt")]
AFTER = [("tracking", "0010_job_number")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_existing_jobs_by_jid_within_each_experiment(django_user_model):
    apps = migrate(BEFORE)
    try:
        Experiment, OldJob = apps.get_model("tracking", "Experiment"), apps.get_model("tracking", "Job")
        User = apps.get_model(django_user_model._meta.app_label, django_user_model._meta.model_name)
        owner = User.objects.create(username="alice")
        first, second, empty = (Experiment.objects.create(owner=owner, name=name) for name in "abc")
        now = timezone.now()
        # Global ids, as before: the second experiment's first job is job 2.
        order = [first, second, first, second, second, first]
        jids = [OldJob.objects.create(experiment=experiment, start_time=now).pk for experiment in order]

        apps = migrate(AFTER)

        NewJob = apps.get_model("tracking", "Job")
        assert dict(NewJob.objects.values_list("pk", "number")) == dict(zip(jids, [1, 1, 2, 2, 3, 3]))
        assert not NewJob.objects.filter(experiment_id=empty.pk).exists()
    finally:
        migrate_to_latest()


# -- where a person reads them ----------------------------------------------------------


@pytest.fixture
def search(db):
    """alice's experiment "search", whose jobs 1, 2, 3 have other ids (4, 5, 6 on a
    fresh SQLite database): another experiment's three jobs came first."""
    owner = make_user("alice")
    earlier = make_configured_experiment(owner, name="earlier")
    make_jobs(earlier, 3)
    experiment = make_configured_experiment(owner, name="search", parameter_config=[{"name": "lr"}])
    [cpu] = make_resources(1)
    jobs = make_jobs(experiment, 3, steps=4, resource=cpu)
    assert [job.number for job in jobs] == [1, 2, 3] and all(job.pk > job.number for job in jobs)
    return experiment, jobs, cpu


def text_of(response):
    return response.content.decode()


def test_it_names_a_job_by_its_number_on_its_page(client, search):
    experiment, jobs, _ = search
    client.force_login(experiment.owner)

    page = text_of(client.get(f"/jobs/{jobs[1].pk}/"))

    assert "<title>Job 2 · search · aupsite</title>" in page
    assert '<span aria-current="page">Job 2</span>' in page  # the breadcrumb
    assert re.search(r"<h1>Job 2 <span", page)
    assert f"Job {jobs[1].pk}" not in page


def test_it_names_jobs_by_number_in_the_table_and_the_best_job(client, search):
    experiment, jobs, _ = search
    client.force_login(experiment.owner)

    page = text_of(client.get(f"/experiments/{experiment.pk}/"))

    links = re.findall(r'<a href="/jobs/(\d+)/" id="job-link-\d+">(\d+)</a>', page)
    assert sorted(links) == [(str(job.pk), str(job.number)) for job in jobs]
    assert 'aria-label="Pin job 3 to the learning-curve chart"' in page
    # The best job (the last, by the builder's scores), linked by its id.
    assert f'<a href="/jobs/{jobs[2].pk}/" id="best-job-link">Job 3</a>' in page


def test_it_sends_the_charts_each_jobs_number_beside_its_id(client, search):
    experiment, jobs, _ = search
    client.force_login(experiment.owner)

    payload = client.get(f"/experiments/{experiment.pk}/charts.json").json()

    assert {(job["id"], job["number"]) for job in payload["curves"]["jobs"]} == {(job.pk, job.number) for job in jobs}
    history = payload["history"]
    assert history["points"][0] == [1, 2, 3]  # x: the job's number
    assert history["jids"] == [job.pk for job in jobs]  # what a click opens
    xs, scores, ids, numbers = history["params"]["series"]["lr"]
    assert (ids, numbers) == ([job.pk for job in jobs], [1, 2, 3])


def test_it_names_running_jobs_by_number_on_the_resources_page(client, search):
    experiment, _, cpu = search
    running = make_recorded_job(experiment, cpu, status="RUNNING")
    client.force_login(experiment.owner)

    page = text_of(client.get("/resources/"))

    assert f'<a href="/jobs/{running.pk}/">Job 4</a> of' in page
    assert f"Job {running.pk}" not in page


def test_it_gives_the_jobs_number_in_the_api(search):
    experiment, jobs, cpu = search
    running = make_recorded_job(experiment, cpu, status="RUNNING")
    api = client_for(experiment.owner)

    listed = api.get(f"/api/experiments/{experiment.pk}/jobs/").json()["results"]
    assert [(row["jid"], row["number"]) for row in listed] == [(job.pk, job.number) for job in [*jobs, running]]
    assert api.get(f"/api/jobs/{jobs[0].pk}/").json()["number"] == 1
    assert api.get(f"/api/experiments/{experiment.pk}/").json()["best"] == {"jid": jobs[2].pk, "number": 3, "score": 1.0}
    [resource] = api.get("/api/resources/").json()["resources"]
    assert resource["running"] == {"jid": running.pk, "number": 4, "eid": experiment.pk, "experiment": "search"}
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "number within its experiment" in schema["components"]["schemas"]["JobOut"]["properties"]["number"]["description"]


def test_it_names_jobs_by_number_in_the_admin(client, search):
    experiment, jobs, cpu = search
    running = make_recorded_job(experiment, cpu, status="RUNNING")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    changelist = text_of(client.get(f"/admin/tracking/job/?experiment__id__exact={experiment.pk}"))
    assert re.search(rf'<a href="/admin/tracking/job/{running.pk}/change/[^"]*">Job 4</a>', changelist)
    assert "Job 4" in text_of(client.get(f"/admin/tracking/job/{running.pk}/change/"))
    resources = text_of(client.get("/admin/tracking/resource/"))
    assert f'<a href="/admin/tracking/job/{running.pk}/change/">job 4</a>' in resources
