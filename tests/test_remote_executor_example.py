"""examples/remote_executor.py: an executor that has only RestConnector and a token."""

import os
import subprocess
import sys

import pytest

from tests.factories import make_resource, make_token, make_user
from tests.test_connector_concurrency import PROJECT_DIR
from tracking.models import Experiment, IntermediateResult, JobAttempt, MultipleResult, Resource, ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)

# Runs the example with Django unimportable: the executor's machine may not have it.
WITHOUT_DJANGO = "import runpy, sys; sys.modules['django'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def run_example(url, secret, tmp_path, *args):
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env["AUPSITE_TOKEN"] = secret
    return subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_DJANGO,
            str(PROJECT_DIR / "examples" / "remote_executor.py"),
            "--url",
            url,
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_recorded(jobs, steps):
    experiment = Experiment.objects.get()
    assert (experiment.name, experiment.status, experiment.owner.username) == ("remote search", "FINISHED", "alice")
    assert list(experiment.jobs.values_list("status", flat=True)) == ["FINISHED"] * jobs
    assert JobAttempt.objects.filter(job__experiment=experiment).count() == jobs + 1  # one retry
    assert IntermediateResult.objects.filter(job__experiment=experiment).count() == jobs * steps
    assert MultipleResult.objects.filter(experiment=experiment).count() == jobs * steps * 2
    assert MultipleResult.objects.filter(experiment=experiment, is_last=True).count() == jobs * 2
    assert list(ResultLabel.objects.filter(experiment=experiment).values_list("name", flat=True)) == [
        "accuracy",
        "loss",
    ]
    assert not Resource.objects.filter(status="busy").exists()
    return experiment


def test_it_records_an_experiment_over_http(live_server, tmp_path):
    alice = make_user("alice")
    make_resource("cpu")
    _, secret = make_token(alice, "remote")

    result = run_example(live_server.url, secret, tmp_path, "--user", "alice", "--jobs", "4", "--steps", "5")

    assert result.returncode == 0, result.stderr
    experiment = assert_recorded(jobs=4, steps=5)
    assert f"experiment {experiment.pk} (remote search)" in result.stdout


def test_it_records_every_result_once_through_a_network_that_drops_answers(live_server, flaky_proxy, tmp_path):
    alice = make_user("alice")
    make_resource("cpu")
    _, secret = make_token(alice, "remote")
    # Every fourth answer is lost on the way back, every ninth connection refused.
    plan = ["refuse" if index % 9 == 5 else "drop-response" if index % 4 == 1 else "pass" for index in range(400)]
    proxy = flaky_proxy(plan)

    result = run_example(proxy.url, secret, tmp_path, "--user", "alice", "--jobs", "3", "--steps", "5")

    assert result.returncode == 0, result.stderr
    failures = [action for action in plan[: proxy.connections] if action != "pass"]
    assert failures.count("drop-response") >= 10 and failures.count("refuse") >= 3
    # Exactly what the script recorded, no step twice: lost answers were replayed.
    assert_recorded(jobs=3, steps=5)


def test_it_fails_loudly_with_a_revoked_token(live_server, tmp_path):
    alice = make_user("alice")
    make_resource("cpu")
    token, secret = make_token(alice, "remote")
    token.revoke()

    result = run_example(live_server.url, secret, tmp_path, "--user", "alice")

    assert result.returncode != 0
    assert "AccessDeniedError" in result.stderr and "Invalid token" in result.stderr
    assert not Experiment.objects.exists()
