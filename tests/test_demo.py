"""The simulated executor behind `make run`'s demo and the browser tests."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_configured_experiment, make_user
from tracking.demo import DemoExecutor
from tracking.models import Experiment, IntermediateResult, JobAttempt, MultipleResult, Resource

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_writes_a_whole_experiment_through_the_connector():
    make_user("alice")
    executor = DemoExecutor("alice", jobs=9, parallel=3, steps=12, step_delay=0)
    eid = executor.run()
    assert executor.errors == []
    experiment = Experiment.objects.get(pk=eid)
    assert experiment.status == "FINISHED" and experiment.owner.username == "alice"
    assert "worker crashed" in experiment.error_msg
    statuses = sorted(str(status) for status in experiment.jobs.values_list("status", flat=True))
    assert statuses.count("FINISHED") == 7 and "FAILED" in statuses and "EARLY_STOPPED" in statuses
    assert JobAttempt.objects.filter(job__experiment=experiment).count() == 10  # one retry
    retried = JobAttempt.objects.filter(job__experiment=experiment, number=1).get()
    first = JobAttempt.objects.get(job=retried.job, number=0)
    assert retried.resource_id != first.resource_id  # retried elsewhere
    assert experiment.jobs.filter(score_text="nan").count() == 1
    assert experiment.jobs.filter(score_text="EARLY STOPPED").count() == 1
    assert IntermediateResult.objects.filter(job__experiment=experiment, score_text="nan").exists()
    assert list(experiment.result_labels.values_list("name", flat=True)) == ["accuracy", "loss"]
    assert MultipleResult.objects.filter(experiment=experiment, is_last=True).count() == 9 * 2
    assert not Resource.objects.filter(status="busy").exists()


def test_it_stops_early_and_marks_the_experiment_stopped():
    make_user("alice")
    executor = DemoExecutor("alice", jobs=50, parallel=2, steps=40, step_delay=0.05)
    executor.run_in_background()
    executor.stop()
    experiment = Experiment.objects.get(pk=executor.eid)
    assert experiment.status == "STOPPED"
    assert experiment.jobs.count() < 50 and not experiment.jobs.filter(status="RUNNING").exists()
    assert not Resource.objects.filter(status="busy").exists()


def test_the_command_runs_the_demo_for_the_first_superuser_only_on_an_empty_database():
    make_user("admin", is_superuser=True, is_staff=True)
    out = StringIO()
    call_command("aup_demo", "--if-empty", "--jobs", "3", "--steps", "3", "--step-delay", "0", stdout=out)
    experiment = Experiment.objects.get()
    assert experiment.owner.username == "admin" and experiment.status == "FINISHED"
    assert f"/experiments/{experiment.pk}/" in out.getvalue()

    again = StringIO()
    call_command("aup_demo", "--if-empty", stdout=again)
    assert "no demo" in again.getvalue() and Experiment.objects.count() == 1


def test_the_command_refuses_bad_input_and_writes_nothing():
    make_configured_experiment(make_user("alice"))
    with pytest.raises(CommandError, match="no such user"):
        call_command("aup_demo", "--owner", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="--jobs"):
        call_command("aup_demo", "--owner", "alice", "--jobs", "0", stdout=StringIO())
    assert Experiment.objects.count() == 1


def start_demo_process(*arguments):
    import os
    import subprocess
    import sys

    from tests.test_connector_concurrency import PROJECT_DIR, database_url

    env = {**os.environ, "DATABASE_URL": database_url()}
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "aup_demo", "--step-delay", "0.1", "--jobs", "40", *arguments],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_results(timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while not IntermediateResult.objects.exists():
        assert time.monotonic() < deadline, "the demo wrote nothing"
        time.sleep(0.1)


def assert_stopped_cleanly():
    experiment = Experiment.objects.get()
    assert experiment.status == "STOPPED"
    assert not experiment.jobs.filter(status="RUNNING").exists()
    assert not Resource.objects.filter(status="busy").exists()


def test_the_demo_stops_when_the_server_beside_it_stops():
    # `make run` passes the shell's pid as --parent: when it is gone, so is the demo.
    import subprocess

    make_user("admin", is_superuser=True, is_staff=True)
    server = subprocess.Popen(["sleep", "60"])
    demo = start_demo_process("--parent", str(server.pid))
    try:
        wait_for_results()
        server.kill()
        server.wait()
        out, err = demo.communicate(timeout=30)
    finally:
        server.kill()
        demo.kill()
    assert demo.returncode == 0, err
    assert "stopped" in out
    assert_stopped_cleanly()


def test_the_demo_ends_its_jobs_on_sigterm():
    # What make's trap sends when the server stops with Ctrl-C.
    make_user("admin", is_superuser=True, is_staff=True)
    demo = start_demo_process()
    try:
        wait_for_results()
        demo.terminate()
        out, err = demo.communicate(timeout=30)
    finally:
        demo.kill()
    assert demo.returncode == 0, err
    assert_stopped_cleanly()
