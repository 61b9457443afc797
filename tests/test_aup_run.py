"""manage.py aup_run: real Auptimizer 2.0 experiments (installed from PyPI by the test
requirements) recorded live through the connector, and stopped cleanly.

The runs are subprocesses started from an experiment folder, as a researcher starts
them; they write the test database through DATABASE_URL."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.auptimizer import support
from tests.factories import make_resource, make_resources, make_user
from tracking.connector import DjangoConnector
from tracking.interop.loader import INSTALL_COMMAND, import_auptimizer
from tracking.interop.runner import ExperimentRun, write_env
from tracking.models import Experiment, IntermediateResult, Job, JobAttempt, Resource, ResultLabel

transactional = pytest.mark.django_db(transaction=True)


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def assert_nothing_left_running():
    assert not Job.objects.filter(status="RUNNING").exists()
    assert not JobAttempt.objects.filter(end_time__isnull=True).exists()
    assert not Resource.objects.filter(status="busy").exists()


def process_alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@transactional
def test_it_runs_a_random_search_as_auptimizer_does_on_its_own_database(tmp_path):
    # The same experiment twice, same seed: Auptimizer alone, on the database its own
    # setup creates, then through aup_run and the connector.
    reference = support.run_reference(support.project(tmp_path / "auptimizer", "experiment.json"), "experiment.json", "alice")
    make_user("alice")
    make_resources(2)
    folder = support.project(tmp_path / "aupsite", "experiment.json")

    result = support.aup_run(folder, "experiment.json", "--user", "alice")

    assert result.returncode == 0, result.stderr
    experiment = Experiment.objects.get()
    ours, theirs = support.aupsite_summary(experiment), support.auptimizer_summary(reference)
    assert ours == theirs
    # The experiment did what the comparison is about: two jobs at a time, a crashed
    # attempt retried, an early stop, two labeled results per step.
    assert experiment.config["n_parallel"] == 2
    assert theirs["attempt_count"] > theirs["job_count"]
    assert [job["status"] for job in theirs["jobs"].values()].count("EARLY_STOPPED") == 1
    assert theirs["labels"] == ["accuracy", "loss"]
    assert list(ResultLabel.objects.filter(experiment=experiment).values_list("name", flat=True)) == ["accuracy", "loss"]
    attempts = list(JobAttempt.objects.filter(job__experiment=experiment))
    assert any(a.start_time < b.end_time and b.start_time < a.end_time for a in attempts for b in attempts if a != b)
    assert experiment.status == "FINISHED"
    # The crashed attempt's output is the experiment's error message, as in Auptimizer.
    [(reference_error,)] = sqlite3.connect(reference).execute("SELECT error_msg FROM experiment").fetchall()
    assert experiment.error_msg == reference_error
    assert "simulated crash" in reference_error
    best_jid, best_score = DjangoConnector().get_best_result(experiment.pk)
    assert best_score == ours["best"]["score"]
    assert f"FINISHED: best job {best_jid}, score {best_score}" in result.stdout
    assert_nothing_left_running()


def start_hanging_experiment(tmp_path, experiment_file="stop.json", *arguments):
    make_user("alice")
    make_resources(2)
    folder = support.project(tmp_path / "project", experiment_file)
    process = support.start_aup_run(folder, experiment_file, "--user", "alice", *arguments)
    # Running: both jobs have reported their first step and keep training.
    try:
        wait_for(lambda: IntermediateResult.objects.count() == 2 or process.poll() is not None, "two running jobs")
        assert process.poll() is None
    except AssertionError:
        process.kill()
        raise AssertionError(f"the jobs never reported a step:\n{process.communicate()[1]}") from None
    return folder, process, Experiment.objects.get()


def assert_stopped_cleanly(folder, process, experiment, returncode):
    out, err = process.communicate(timeout=60)
    assert process.returncode == returncode, err
    experiment.refresh_from_db()
    assert experiment.status == "STOPPED"
    assert experiment.end_time is not None
    assert experiment.error_msg is None  # ending the jobs on purpose is no failure
    # Both running jobs were cancelled (Auptimizer's way: no status, no score).
    assert list(experiment.jobs.values_list("status", "score", "score_text")) == [(None, None, None)] * 2
    assert_nothing_left_running()
    pids = [int(path.name) for path in (folder / "pids").iterdir()]
    assert len(pids) == 2
    assert not any(process_alive(pid) for pid in pids)
    assert "STOPPED" in err
    return out, err


@transactional
def test_it_stops_on_sigterm(tmp_path):
    folder, process, experiment = start_hanging_experiment(tmp_path)
    try:
        process.terminate()
        out, err = assert_stopped_cleanly(folder, process, experiment, returncode=143)
    finally:
        process.kill()
    assert "terminated (SIGTERM)" in err


@transactional
def test_it_stops_when_a_stop_is_requested_from_the_dashboard(tmp_path):
    folder, process, experiment = start_hanging_experiment(tmp_path)
    try:
        DjangoConnector().change_experiment_status(experiment.pk, "REQUEST_STOP")
        out, err = assert_stopped_cleanly(folder, process, experiment, returncode=1)
    finally:
        process.kill()
    assert "a stop was requested from the dashboard" in err


@transactional
def test_it_stops_on_ctrl_c(tmp_path):
    folder, process, experiment = start_hanging_experiment(tmp_path)
    try:
        # The terminal sends SIGINT to the whole group: the job scripts die of it too,
        # and are recorded cancelled, not finished with the score they last reported.
        os.killpg(process.pid, signal.SIGINT)
        out, err = assert_stopped_cleanly(folder, process, experiment, returncode=130)
    finally:
        process.kill()
    assert "interrupted (Ctrl-C)" in err


@transactional
def test_a_second_ctrl_c_ends_job_scripts_that_ignore_sigterm_at_once(tmp_path):
    folder, process, experiment = start_hanging_experiment(tmp_path, "stubborn.json", "--grace", "3600")
    try:
        process.send_signal(signal.SIGINT)
        wait_for(lambda: Experiment.objects.get().status == "STOPPING", "the stop to begin")
        # The scripts ignore SIGTERM and would be given an hour; a second Ctrl-C kills them.
        process.send_signal(signal.SIGINT)
        assert_stopped_cleanly(folder, process, experiment, returncode=130)
    finally:
        process.kill()


@transactional
def test_it_runs_jobs_on_the_gpus_aupsite_knows(tmp_path):
    make_user("alice")
    make_resource("gpu", "3")
    make_resource("gpu", "7")
    folder = support.project(tmp_path / "project", "gpu.json")

    result = support.aup_run(folder, "gpu.json", "--user", "alice")

    assert result.returncode == 0, result.stderr
    jobs = Job.objects.filter(experiment__name="interop gpu")
    assert jobs.count() == 3
    for job in jobs:
        # Each job saw, in CUDA_VISIBLE_DEVICES, the GPU id of the resource it ran on.
        [attempt] = job.attempts.select_related("resource")
        assert (job.status, job.score) == ("FINISHED", float(attempt.resource.name))
    assert_nothing_left_running()


@transactional
def test_it_runs_passive_jobs_with_the_results_typed_in(tmp_path):
    make_user("alice")
    make_resource("passive")
    folder = support.project(tmp_path / "project", "passive.json")

    result = support.aup_run(folder, "passive.json", "--user", "alice", stdin="0.5\n0.25\n")

    assert result.returncode == 0, result.stderr
    experiment = Experiment.objects.get()
    assert list(experiment.jobs.order_by("pk").values_list("status", "score")) == [("FINISHED", 0.5), ("FINISHED", 0.25)]
    assert experiment.status == "FINISHED"
    assert "best job" in result.stdout and "score 0.25" in result.stdout  # target min
    assert_nothing_left_running()


@pytest.mark.django_db
def test_it_makes_the_jobs_folder_before_any_job_starts(tmp_path, monkeypatch):
    # Auptimizer makes it in each job when missing, and two jobs started at once raced
    # on it: one failed with FileExistsError, and with it the experiment.
    make_user("alice")
    make_resources(2)
    folder = support.project(tmp_path / "project", "stop.json")
    monkeypatch.chdir(folder)
    config = json.loads((folder / "stop.json").read_text())
    connector = DjangoConnector()

    ExperimentRun(import_auptimizer(), config, "alice", connector, write_env(tmp_path, []))

    assert (folder / "jobs").is_dir()
    assert not Job.objects.exists()
    connector.close()


def test_it_writes_the_resource_mappings_auptimizer_reads(tmp_path):
    import_auptimizer()
    from aup.EE.Resource.GPUResourceManager import _load_gpu_mapping
    from aup.EE.Resource.SSHResourceManager import SSHResourceManager

    resources = [(1, "cpu", "localhost"), (4, "gpu", "0"), (5, "gpu", "1"), (9, "node", "me@host:2222"), (11, "aws", "i-1")]
    write_env(tmp_path, resources)

    assert _load_gpu_mapping(auppath=str(tmp_path)) == {4: "0", 5: "1"}
    assert SSHResourceManager.load_node_mapping(auppath=str(tmp_path)) == {9: "me@host:2222"}
    assert SSHResourceManager.load_node_mapping(key="aws_mapping", auppath=str(tmp_path)) == {11: "i-1"}


@pytest.mark.django_db
def test_it_explains_how_to_install_auptimizer_when_it_is_missing(tmp_path, monkeypatch):
    make_user("alice")
    for name in [name for name in sys.modules if name == "aup" or name.startswith("aup.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "aup", None)  # what `import aup` meets when it is not installed
    (tmp_path / "experiment.json").write_text("{}")

    with pytest.raises(CommandError, match="Auptimizer is not installed") as error:
        call_command("aup_run", str(tmp_path / "experiment.json"), "--user", "alice")

    assert INSTALL_COMMAND in str(error.value)
    assert INSTALL_COMMAND == ".venv/bin/pip install -r requirements-auptimizer.txt"


def test_it_exits_non_zero_when_auptimizer_is_missing(tmp_path):
    # The command itself, in a process where `import aup` fails as when it is not installed.
    script = (
        "import sys; sys.modules['aup'] = None; "
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'aup_run', 'x.json', '--user', 'alice'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=support.PROJECT_DIR, env=support.aup_run_env(),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "pip install -r requirements-auptimizer.txt" in result.stderr


EXPERIMENT = json.loads((support.FIXTURES / "experiment.json").read_text())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, message",
    [
        ({"script": None}, "missing 'script'"),
        ({"name": None}, "missing 'name'"),
        ({"name": ""}, "'name' must be a non-empty string"),
        ({"resource": "tpu"}, "'resource' must be one of cpu, gpu, node, aws, passive"),
        ({"target": "maximum"}, "'target' must be 'max' or 'min'"),
        ({"n_parallel": 0}, "'n_parallel' must be a whole number"),
        ({"proposer": "genetic"}, "Auptimizer has no proposer 'genetic'"),
        ({"proposer": "bohb"}, "'bohb' proposer needs a package that is not installed"),
        ({"script": "./missing.py"}, "missing.py does not exist"),
        ({"script": "./notes.txt"}, "notes.txt is not executable"),
        ({"resource": "gpu"}, "aupsite has no gpu resource in service"),
        ({"n_samples": None}, "Auptimizer refused the experiment"),
    ],
)
def test_it_refuses_a_bad_experiment_and_writes_nothing(tmp_path, monkeypatch, change, message):
    make_user("alice")
    make_resource("cpu")
    make_resource("gpu", "0", in_service=False)
    folder = support.project(tmp_path / "project")
    (folder / "notes.txt").write_text("not a script")
    config = {key: value for key, value in {**EXPERIMENT, **change}.items() if value is not None}
    (folder / "experiment.json").write_text(json.dumps(config))
    monkeypatch.chdir(folder)

    with pytest.raises(CommandError, match=message):
        call_command("aup_run", "experiment.json", "--user", "alice", stdout=StringIO())

    assert not Experiment.objects.exists()
    assert not (folder / "jobs").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, user, message",
    [
        (None, "alice", "no such file"),
        ("{not json", "alice", "is not valid JSON"),
        ("[1, 2]", "alice", "must hold a JSON object"),
        (json.dumps(EXPERIMENT), "nobody", "--user 'nobody': no such user"),
    ],
)
def test_it_refuses_a_bad_file_or_user_and_writes_nothing(tmp_path, monkeypatch, content, user, message):
    make_user("alice")
    make_resource("cpu")
    folder = support.project(tmp_path / "project")
    if content is not None:
        (folder / "experiment.json").write_text(content)
    monkeypatch.chdir(folder)

    with pytest.raises(CommandError, match=message):
        call_command("aup_run", "experiment.json", "--user", user, stdout=StringIO())

    assert not Experiment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("option", ["--sleep", "--poll", "--grace"])
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_it_refuses_bad_timings(tmp_path, option, value):
    with pytest.raises(CommandError, match="number of seconds"):
        call_command("aup_run", "experiment.json", "--user", "alice", option, value)
    assert not Experiment.objects.exists()

