"""The simulated executor behind `make run`'s demo and the browser tests."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.factories import make_configured_experiment, make_experiment, make_recorded_job, make_user
from tracking.demo import DemoExecutor, DemoLoop, demo_experiments
from tracking.models import Experiment, IntermediateResult, JobAttempt, MultipleResult, Resource

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_writes_a_whole_experiment_through_the_connector():
    alice = make_user("alice")
    make_recorded_job(make_experiment(alice, "earlier"), None)  # so that job ids and numbers differ
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
    assert experiment.error_msg.startswith(f"job {retried.job.number}: worker crashed")  # as its page names it
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


def run_command(*arguments):
    out = StringIO()
    call_command("aup_demo", "--jobs", "3", "--steps", "3", "--step-delay", "0", "--pause", "0", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_runs_the_demo_for_the_first_superuser_on_an_empty_database():
    make_user("admin", is_superuser=True, is_staff=True)
    out = run_command("--if-empty", "--searches", "1")
    experiment = Experiment.objects.get()
    assert experiment.owner.username == "admin" and experiment.status == "FINISHED"
    assert experiment.name == "demo: random search 1 (simulated)"
    assert f"/experiments/{experiment.pk}/" in out


def test_the_command_goes_on_while_the_only_experiments_are_demos():
    # A second `make run` on a database the demo alone has written: the demo goes on.
    make_user("admin", is_superuser=True, is_staff=True)
    run_command("--if-empty", "--searches", "1")
    out = run_command("--if-empty", "--searches", "2")
    names = list(Experiment.objects.order_by("pk").values_list("name", flat=True))
    assert names == [f"demo: random search {number} (simulated)" for number in (1, 2, 3)]
    assert "no demo" not in out


def test_the_command_runs_no_demo_on_a_database_with_someones_experiment():
    make_user("admin", is_superuser=True, is_staff=True)
    make_configured_experiment(make_user("alice"), name="real work")
    out = run_command("--if-empty", "--searches", "1")
    assert "no demo" in out and Experiment.objects.count() == 1


def test_the_command_runs_until_someone_records_an_experiment():
    # Without --searches it runs on; a user's first experiment ends it after its search.
    admin = make_user("admin", is_superuser=True, is_staff=True)
    announced = []

    def start_real_work_during_the_second(executor):
        announced.append(executor.eid)
        if len(announced) == 2:
            make_configured_experiment(admin, name="my own search")

    loop = DemoLoop("admin", only_while_demos=True, pause=0, on_start=start_real_work_during_the_second,
                    jobs=2, parallel=2, steps=2, step_delay=0)
    assert loop.run() == 2 and loop.errors == []
    assert demo_experiments().count() == 2 and Experiment.objects.filter(name="my own search").exists()


def test_the_loop_keeps_the_newest_demos_and_never_anyone_elses():
    admin = make_user("admin", is_superuser=True, is_staff=True)
    alice = make_user("alice")
    # Neither is the demo's, though each has half its mark.
    named_like_it = make_configured_experiment(admin, name="demo: random search 9 (simulated)", status="FINISHED")
    marked_like_it = make_configured_experiment(admin, name="my search", status="FINISHED", aupsite_demo=True)
    # Another owner's demo, and one of the admin's demos that someone restarted.
    alices_demo = DemoExecutor("alice", jobs=1, parallel=1, steps=2, step_delay=0, name="demo: alice's").run()
    DemoLoop("admin", searches=1, pause=0, jobs=1, parallel=1, steps=2, step_delay=0).run()
    restarted = Experiment.objects.get(name="demo: random search 1 (simulated)")
    Experiment.objects.filter(pk=restarted.pk).update(status="RUNNING")

    loop = DemoLoop("admin", searches=4, pause=0, keep=3, jobs=2, parallel=2, steps=2, step_delay=0)
    assert loop.run() == 4 and loop.errors == []

    kept = set(demo_experiments().filter(owner=admin).values_list("name", flat=True))
    # 2 to 5 written by this loop; each start deleted the ended ones but the newest 2, so
    # that with the new one 3 remain; never the RUNNING one, however old.
    assert kept == {f"demo: random search {number} (simulated)" for number in (1, 3, 4, 5)}
    assert Experiment.objects.filter(pk__in=[named_like_it.pk, marked_like_it.pk, alices_demo]).count() == 3
    assert alice.experiments.count() == 1
    # Deleted with everything recorded for them; the survivors' rows are all there.
    assert not IntermediateResult.objects.exclude(job__experiment__in=Experiment.objects.all()).exists()
    assert not Resource.objects.filter(status="busy").exists()


def test_the_loop_numbers_and_seeds_each_search():
    make_user("admin", is_superuser=True, is_staff=True)
    DemoLoop("admin", searches=2, pause=0, jobs=3, parallel=1, steps=2, step_delay=0).run()
    first, second = Experiment.objects.order_by("pk")
    assert (first.name, second.name) == ("demo: random search 1 (simulated)", "demo: random search 2 (simulated)")
    configs = [list(experiment.jobs.order_by("pk").values_list("config", flat=True)) for experiment in (first, second)]
    assert configs[0] != configs[1]  # a new search, not a replay

    Experiment.objects.all().delete()
    DemoLoop("admin", searches=1, pause=0, jobs=3, parallel=1, steps=2, step_delay=0).run()
    again = Experiment.objects.get()
    assert list(again.jobs.order_by("pk").values_list("config", flat=True)) == configs[0]  # reproducible


def test_the_loop_stops_within_its_pause():
    # The pause between two searches is a wait on the stop: stopping never waits it out.
    make_user("admin", is_superuser=True, is_staff=True)
    ended = []
    loop = DemoLoop("admin", pause=3600, on_start=lambda executor: ended.append(executor.eid),
                    jobs=1, parallel=1, steps=2, step_delay=0)
    thread = loop.run_in_background()
    while not (ended and Experiment.objects.get(pk=ended[0]).ended):
        thread.join(0.05)
    loop.stopping.set()
    thread.join(30)
    assert not thread.is_alive() and Experiment.objects.count() == 1


def test_the_command_refuses_bad_input_and_writes_nothing():
    make_configured_experiment(make_user("alice"))
    with pytest.raises(CommandError, match="no such user"):
        call_command("aup_demo", "--owner", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="--jobs"):
        call_command("aup_demo", "--owner", "alice", "--jobs", "0", stdout=StringIO())
    for option in ("--searches", "--keep"):
        with pytest.raises(CommandError, match="--searches and --keep must be 1 or more"):
            call_command("aup_demo", "--owner", "alice", option, "0", stdout=StringIO())
    with pytest.raises(CommandError, match="--pause 0 or more"):
        call_command("aup_demo", "--owner", "alice", "--pause", "-1", stdout=StringIO())
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
