"""DjangoConnector under concurrency: many threads sharing one instance, many processes
writing one database. Run on SQLite and on PostgreSQL (CI runs the suite on both)."""

import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections

from tests.factories import make_resources, make_user
from tracking.connector import DjangoConnector
from tracking.models import IntermediateResult, Job, JobAttempt, MultipleResult, Resource

PROJECT_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(count, target):
    errors = []

    def guarded(index):
        try:
            target(index)
        except BaseException as exc:  # noqa: BLE001 - reported below, with its thread
            errors.append((index, exc))

    threads = [threading.Thread(target=guarded, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_it_shares_one_instance_between_8_threads():
    make_user("alice")
    resources = make_resources(8)
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "threads"})
    jids = [None] * 8

    def executor(index):
        rid = resources[index].pk
        jid = jids[index] = connector.job_started(eid, rid, {"thread": index})
        for step in range(30):
            irid = connector.save_intermediate_result(jid, step)
            connector.save_multiple_results(jid, irid, eid, ["acc"], [step])
        connector.job_finished(rid, jid, float(index), "FINISHED")

    run_in_threads(8, executor)

    assert Job.objects.filter(experiment_id=eid, status="FINISHED").count() == 8
    for jid in jids:
        assert connector.get_intermediate_results_job(jid) == [float(step) for step in range(30)]
    assert MultipleResult.objects.filter(experiment_id=eid).count() == 8 * 30
    assert not Resource.objects.filter(status="busy").exists()
    assert connector.get_best_result(eid) == [jids[7], 7.0]
    connector.close()


def test_it_numbers_steps_without_gaps_when_8_threads_report_for_one_job():
    make_user("alice")
    [cpu] = make_resources(1)
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "one job"})
    jid = connector.start_job(eid, cpu.pk, {})

    run_in_threads(8, lambda index: [connector.save_intermediate_result(jid, index) for _ in range(25)])

    numbers = sorted(IntermediateResult.objects.filter(job_id=jid).values_list("number", flat=True))
    assert numbers == list(range(200))
    connector.close()


def test_it_numbers_jobs_without_gaps_when_8_threads_start_jobs_in_one_experiment():
    make_user("alice")
    resources = make_resources(8)
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "one experiment"})

    def executor(index):
        for _ in range(10):
            connector.job_started(eid, resources[index].pk, {"thread": index})

    run_in_threads(8, executor)

    numbers = sorted(Job.objects.filter(experiment_id=eid).values_list("number", flat=True))
    assert numbers == list(range(1, 81))
    # Numbered in the order the jobs were started, as their ids are.
    assert list(Job.objects.filter(experiment_id=eid).order_by("pk").values_list("number", flat=True)) == numbers
    connector.close()


def test_it_gives_each_thread_its_own_connection_and_drops_it_when_the_thread_ends():
    make_user("alice")
    connector = DjangoConnector()
    seen = []

    def executor(index):
        connector.get_all_experiment("alice")
        seen.append(weakref.ref(connections["default"]))

    run_in_threads(4, executor)
    gc.collect()

    assert len(seen) == 4
    # Each thread had a wrapper of its own, and none survives its thread.
    assert all(ref() is None for ref in seen)
    assert connector.get_all_experiment("alice") == []
    connector.close()


def test_it_reuses_the_thread_connection_across_calls():
    make_user("alice")
    connector = DjangoConnector()
    connector.get_all_experiment()
    first = connections["default"].connection
    connector.get_all_experiment()
    connector.get_resource_type()
    assert connections["default"].connection is first
    connector.close()


# -- many processes ---------------------------------------------------------------------


def database_url():
    """The URL of the test database, for executor processes outside the test process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or "localhost"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{settings['NAME']}"


def run_workers(tmp_path, argument_lists):
    go_file = tmp_path / "go"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "aupsite.settings"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.concurrency_worker", arguments[0], str(go_file), *map(str, arguments[1:])],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for arguments in argument_lists
    ]
    go_file.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    return results


def test_it_keeps_every_row_when_8_processes_write_one_database(tmp_path):
    make_user("alice")
    resources = make_resources(8)
    setup = DjangoConnector()
    eid = setup.start_experiment("alice", {"name": "processes"})
    setup.close()

    results = run_workers(tmp_path, [("write", eid, resource.pk, 40) for resource in resources])

    jids = [result["jid"] for result in results]
    assert len(set(jids)) == 8
    assert sorted(Job.objects.filter(experiment_id=eid).values_list("number", flat=True)) == list(range(1, 9))
    assert Job.objects.filter(experiment_id=eid, status="FINISHED").count() == 8
    assert JobAttempt.objects.filter(job__experiment_id=eid).count() == 16  # a retry each
    assert IntermediateResult.objects.filter(job__experiment_id=eid).count() == 8 * 40
    assert MultipleResult.objects.filter(experiment_id=eid).count() == 8 * 40 * 2
    assert MultipleResult.objects.filter(experiment_id=eid, is_last=True).count() == 8 * 2
    for jid in jids:
        assert list(IntermediateResult.objects.filter(job_id=jid).order_by("number").values_list("number", flat=True)) == list(range(40))
    assert not Resource.objects.filter(status="busy").exists()


def test_it_never_gives_one_resource_to_two_of_16_racing_processes(tmp_path):
    make_resources(4)

    results = run_workers(tmp_path, [("race", 5, 0.002)] * 16)

    holds = sorted(hold for result in results for hold in result["holds"])
    assert len(holds) == 16 * 5
    by_resource = {}
    for rid, start, end in holds:
        by_resource.setdefault(rid, []).append((start, end))
    for rid, intervals in by_resource.items():
        # CLOCK_MONOTONIC is one clock for every process on the machine.
        for (_, previous_end), (next_start, _) in zip(intervals, intervals[1:]):
            assert next_start >= previous_end, f"resource {rid} was held by two processes at once"
    assert not Resource.objects.filter(status="busy").exists()
