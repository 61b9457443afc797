"""Several web processes and hosts on one database (README, "Running in production").

The shape of make bench's "scale" row (bench/scale.py), small: two gunicorn instances
("hosts" on two loopback ports) with two workers each, serving the test database (the
SQLite file in WAL mode, or PostgreSQL when the suite runs there); four executor
processes reporting through RestConnector, two to each host; meanwhile a researcher's
session, logged in on one host, polls the experiment page on both as a browser does.
Nothing may fail, every result must be stored exactly once, every page answer be a 200.
"""

import pytest

from bench import scale
from tests.factories import make_experiment, make_resources, make_token, make_user
from tests.test_connector_concurrency import database_url
from tracking.models import Job, JobAttempt, MultipleResult, Resource

pytestmark = pytest.mark.django_db(transaction=True)

EXECUTORS = 4
STEPS = 40
PASSWORD = "scale-test-password"  # of a user in the throwaway test database


def test_it_stores_every_result_once_from_two_hosts_while_a_session_polls_the_page(tmp_path):
    alice = make_user("alice")
    alice.set_password(PASSWORD)
    alice.save()
    _, secret = make_token(alice, "executors")
    experiment = make_experiment(alice, name="scale", config=scale.experiment_config(EXECUTORS))
    scale.preload_history(experiment, jobs=3, steps=10)
    rids = [resource.pk for resource in make_resources(EXECUTORS)]
    env = {"DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "aupsite.settings", "AUPSITE_ENV": "local"}

    hosts = scale.start_hosts(env, count=2, workers=2, threads=2, logdir=tmp_path)
    urls = [url for url, _ in hosts]
    try:
        # Logged in on the first host; its session cookie then serves on both.
        dashboard = scale.Dashboard(urls, experiment.pk, "alice", PASSWORD)
        watching = []
        # One job each (duration 0), polled twice a second meanwhile: more ticks than
        # the browser's 2 s in the little time the load lasts.
        reports = scale.run_executors(
            urls, secret, experiment.pk, rids, STEPS, 0, tmp_path,
            started=lambda: watching.append(dashboard.watch_in_thread("load", poll_seconds=0.5)),
        )  # fmt: skip
        watching[0]()
        dashboard.tick("after")  # the page once the executors are done, on the next host
        dashboard.close()
        logs = [scale.read_log(process) for _, process in hosts]
    finally:
        scale.stop_hosts(hosts)

    assert [steps for report in reports for _, steps in report["jobs"]] == [STEPS] * EXECUTORS
    jids = [jid for report in reports for jid, _ in report["jobs"]]
    results, lost, doubled, errors, error_kinds = scale.tally(reports, scale.stored_rows(jids))
    assert (errors, error_kinds) == (0, [])
    assert (results, lost, doubled) == (EXECUTORS * STEPS, 0, 0)
    assert not any("Traceback" in log for log in logs), logs
    assert {report["mode"] for report in reports} == {"buffered"}
    # Each executor's one job, finished, with its one attempt and its final labels.
    assert len(set(jids)) == EXECUTORS
    assert Job.objects.filter(experiment=experiment).count() == 3 + EXECUTORS  # no job started twice
    jobs = Job.objects.filter(pk__in=jids)
    assert sorted(jobs.values_list("status", flat=True)) == ["FINISHED"] * EXECUTORS
    assert sorted(jobs.values_list("attempts__resource", flat=True)) == sorted(rids)
    assert JobAttempt.objects.filter(job__in=jids).count() == EXECUTORS
    assert not Resource.objects.filter(pk__in=rids, status="busy").exists()
    assert MultipleResult.objects.filter(job__in=jids).count() == EXECUTORS * STEPS * 2

    # The page on both hosts, every answer a 200: the page, its fragments and data.
    statuses = dashboard.statuses()
    assert set(statuses) == {200}, statuses
    asked = dashboard.hosts_asked()
    assert set(asked) == {url.removeprefix("http://") for url in urls}
    kinds = {kind for _, kind, _, _, _ in dashboard.samples}
    assert kinds >= {"page", "summary", "jobs", "importance", "charts", "parcoords"}
