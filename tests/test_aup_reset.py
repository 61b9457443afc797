"""manage.py aup_reset: repairs what a crashed executor left behind, and nothing else."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import ago, make_experiment, make_recorded_job, make_resource, make_resources, make_user
from tracking.connector import DjangoConnector
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, Resource
from tracking.recovery import stale_experiments

pytestmark = pytest.mark.django_db


def aup_reset(*args):
    out = StringIO()
    call_command("aup_reset", *args, stdout=out)
    return out.getvalue()


def snapshot():
    """Everything aup_reset may change, to compare before and after."""
    return (
        sorted(Experiment.objects.values_list("pk", "status", "end_time", "error_msg")),
        sorted(Job.objects.values_list("pk", "status", "end_time", "score", "score_text")),
        sorted(JobAttempt.objects.values_list("pk", "end_time")),
        sorted(Resource.objects.values_list("pk", "status", "holder", "taken_at", "in_service")),
    )


@pytest.fixture
def crash():
    """A crashed executor two hours ago, a healthy one at work, and stray busy resources."""
    alice, bob = make_user("alice"), make_user("bob")
    cpus = make_resources(6)
    long_ago = ago(hours=2)
    dead = make_experiment(alice, "dead", start_time=long_ago)
    dead_jobs = [make_recorded_job(dead, cpus[0], started=long_ago, steps=3), make_recorded_job(dead, cpus[1], started=long_ago)]
    done = make_recorded_job(dead, None, status="FINISHED", started=long_ago, score=0.5)
    healthy = make_experiment(bob, "healthy", start_time=long_ago)
    # Started long ago, but it reported a step a minute ago: alive.
    healthy_job = make_recorded_job(healthy, cpus[2], started=long_ago)
    IntermediateResult.objects.create(job=healthy_job, number=0, score=1.0, receive_time=ago(minutes=1))
    # Taken long ago and never used (its executor died between take and job_started).
    Resource.objects.filter(pk=cpus[3].pk).update(status="busy", holder="gone", taken_at=long_ago)
    # Taken a moment ago: its job is about to be recorded.
    Resource.objects.filter(pk=cpus[4].pk).update(status="busy", holder="alive", taken_at=timezone.now())
    return {"dead": dead, "dead_jobs": dead_jobs, "done": done, "healthy": healthy, "healthy_job": healthy_job, "cpus": cpus}


def test_it_repairs_a_crashed_executor_and_leaves_a_healthy_one_alone(crash):
    dead, cpus = crash["dead"], crash["cpus"]
    output = aup_reset()

    dead.refresh_from_db()
    assert dead.status == "FAILED" and dead.end_time is not None
    assert dead.error_msg == "Ended by aup_reset: its executor was gone, leaving jobs running."
    for job in crash["dead_jobs"]:
        job.refresh_from_db()
        # Failed, ended, and no score invented.
        assert (job.status, job.score, job.score_text) == ("FAILED", None, None)
        assert job.end_time is not None
    assert not JobAttempt.objects.filter(job__experiment=dead, end_time__isnull=True).exists()
    done = Job.objects.get(pk=crash["done"].pk)
    assert (done.status, done.score) == ("FINISHED", 0.5)

    statuses = dict(Resource.objects.values_list("pk", "status"))
    assert statuses[cpus[0].pk] == statuses[cpus[1].pk] == statuses[cpus[3].pk] == "free"
    assert Resource.objects.get(pk=cpus[0].pk).holder is None

    # The healthy experiment, its job, attempt and resource, and the resource just taken.
    healthy = Experiment.objects.get(pk=crash["healthy"].pk)
    assert (healthy.status, healthy.end_time, healthy.error_msg) == ("RUNNING", None, None)
    assert Job.objects.get(pk=crash["healthy_job"].pk).status == "RUNNING"
    assert JobAttempt.objects.get(job=crash["healthy_job"]).end_time is None
    assert statuses[cpus[2].pk] == statuses[cpus[4].pk] == "busy"

    jids = ", ".join(f"job {job.number} #{job.pk}" for job in crash["dead_jobs"])
    assert f"experiment {dead.pk} 'dead'" in output
    assert "RUNNING -> FAILED" in output
    assert f"failed 2 running job(s) [{jids}]" in output
    assert f"freed 2 resource(s) [#{cpus[0].pk}, #{cpus[1].pk}]" in output
    assert f"freed 1 resource(s) whose holder had ended [#{cpus[3].pk}]" in output
    assert "healthy" not in output

    # Running it again finds nothing more to do.
    before = snapshot()
    assert "nothing to repair" in aup_reset()
    assert snapshot() == before


def test_it_reports_without_writing_on_a_dry_run(crash):
    before = snapshot()
    output = aup_reset("--dry-run")
    assert snapshot() == before
    assert "RUNNING -> FAILED" in output
    assert output.rstrip().endswith("dry run: nothing was written")
    # ... and says exactly what the real run then does.
    assert aup_reset().splitlines() == output.splitlines()[:-1]


def test_it_ends_an_experiment_whose_stop_was_requested_as_stopped():
    alice, cpu = make_user("alice"), make_resource()
    experiment = make_experiment(alice, "stopping", status="REQUEST_STOP", start_time=ago(hours=3))
    make_recorded_job(experiment, cpu, started=ago(hours=3))
    assert "REQUEST_STOP -> STOPPED" in aup_reset()
    assert Experiment.objects.get(pk=experiment.pk).status == "STOPPED"
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_resets_a_named_experiment_however_recent():
    alice, cpu = make_user("alice"), make_resource()
    experiment = make_experiment(alice, "just crashed")
    job = make_recorded_job(experiment, cpu)
    assert "nothing to repair" in aup_reset()  # recent: not stale

    output = aup_reset("--experiment", str(experiment.pk))
    assert "RUNNING -> FAILED" in output
    assert Job.objects.get(pk=job.pk).status == "FAILED"
    assert Resource.objects.get(pk=cpu.pk).status == "free"


def test_it_keeps_a_resource_that_another_running_job_holds():
    alice, cpu = make_user("alice"), make_resource()
    dead = make_experiment(alice, "dead")
    make_recorded_job(dead, cpu)
    # Another experiment's job was given the same resource afterwards.
    alive = make_experiment(alice, "alive")
    make_recorded_job(alive, cpu)
    aup_reset("--experiment", str(dead.pk))
    assert Resource.objects.get(pk=cpu.pk).status == "busy"
    assert Experiment.objects.get(pk=alive.pk).status == "RUNNING"


def test_it_honours_the_stale_threshold():
    alice = make_user("alice")
    experiment = make_experiment(alice, "quiet", start_time=ago(minutes=90))
    make_recorded_job(experiment, make_resource(), started=ago(minutes=90))
    assert "nothing to repair" in aup_reset("--stale-minutes", "120")
    assert Experiment.objects.get(pk=experiment.pk).status == "RUNNING"
    assert "RUNNING -> FAILED" in aup_reset("--stale-minutes", "60")


def test_it_counts_any_write_of_an_unfinished_job_as_a_sign_of_life():
    alice = make_user("alice")
    experiment = make_experiment(alice, "slow", start_time=ago(hours=5))
    job = make_recorded_job(experiment, make_resource(), started=ago(hours=5))
    JobAttempt.objects.create(job=job, number=1, start_time=ago(minutes=5))
    assert "nothing to repair" in aup_reset()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--experiment", "999"), "no experiment with id 999"),
        (("--experiment", "0"), "invalid positive integer value"),
        (("--experiment", "x"), "invalid positive integer value"),
        (("--stale-minutes", "0"), "invalid positive integer value"),
        (("--experiment", "1", "--stale-minutes", "5"), "not allowed with argument"),
    ],
)
def test_it_refuses_bad_input_and_writes_nothing(crash, args, message):
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        aup_reset(*args)
    assert snapshot() == before


def test_it_finds_stale_experiments_in_one_query(crash, django_assert_num_queries):
    for number in range(5):
        experiment = make_experiment(crash["dead"].owner, f"dead {number}", start_time=ago(hours=3))
        make_recorded_job(experiment, None, started=ago(hours=3), steps=2)
    # 1. SELECT the active experiments with their last sign of life, filtered by it.
    with django_assert_num_queries(1):
        stale = list(stale_experiments(60, timezone.now()))
    assert [experiment.name for experiment in stale] == ["dead"] + [f"dead {number}" for number in range(5)]


def test_it_cleans_up_after_a_real_connector_that_died(user, cpu):
    # The executor's own calls, then nothing: the process is gone.
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "real"})
    jid = connector.job_started(eid, cpu.pk, {"x": 1})
    connector.save_intermediate_result(jid, 0.25)
    output = aup_reset("--experiment", str(eid))
    assert connector.get_experiment_status(eid) == "FAILED"
    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert f"failed 1 running job(s) [job 1 #{jid}]" in output
    # The connector sees the resource free again.
    assert connector.get_available_resource("alice", "cpu") == [cpu.pk]
    connector.close()


def test_it_frees_a_dead_executors_resource_although_someone_left_an_attempt_open_on_it(user, other_user, cpu):
    # Issue 12, defect 1: alice records a job on bob's cpu without taking it and never
    # ends it. Her open attempt must not keep recovery from freeing the cpu once bob's
    # executor is gone.
    bob, alice = DjangoConnector(), DjangoConnector()
    bobs = bob.start_experiment("bob", {"name": "crashed"})
    bob.job_started(bobs, cpu.pk, {})
    alices = alice.start_experiment("alice", {"name": "squatter"})
    squatting = alice.start_job(alices, cpu.pk, {})

    output = aup_reset("--experiment", str(bobs))

    assert f"freed 1 resource(s) [#{cpu.pk}]" in output
    assert Resource.objects.filter(pk=cpu.pk).values_list("status", "holder").get() == ("free", None)
    # alice's experiment and job are hers: untouched.
    assert Experiment.objects.get(pk=alices).status == "RUNNING"
    assert JobAttempt.objects.get(job_id=squatting).end_time is None
    bob.close()
    alice.close()


def test_it_frees_an_orphaned_resource_although_someone_left_an_attempt_open_on_it(user, other_user, cpu):
    # bob's job ended its attempt but never freed the cpu (a leak), an hour ago; alice's
    # open attempt on it, in her running experiment, must not make it look held.
    bob, alice = DjangoConnector(), DjangoConnector()
    bobs = bob.start_experiment("bob", {"name": "leaky"})
    jid = bob.job_started(bobs, cpu.pk, {})
    bob.end_job_attempt(jid)
    Resource.objects.filter(pk=cpu.pk).update(taken_at=ago(hours=1))
    alices = alice.start_experiment("alice", {"name": "squatter"})
    alice.start_job(alices, cpu.pk, {})

    output = aup_reset()

    assert f"freed 1 resource(s) whose holder had ended [#{cpu.pk}]" in output
    assert Resource.objects.get(pk=cpu.pk).status == "free"
    assert Experiment.objects.get(pk=alices).status == "RUNNING"
    bob.close()
    alice.close()


def test_it_keeps_what_a_running_job_took_with_its_connector_before_recording_it(user, cpu):
    # take_available_resource, then start_job (as the demo does): the job holds it.
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": "reserved"})
    assert connector.take_available_resource(cpu.pk) is True
    connector.start_job(eid, cpu.pk, {})
    Resource.objects.filter(pk=cpu.pk).update(taken_at=ago(hours=1))
    assert "nothing to repair" in aup_reset()
    assert Resource.objects.get(pk=cpu.pk).status == "busy"
    connector.close()
