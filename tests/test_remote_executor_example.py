"""examples/remote_executor.py: an executor that has only RestConnector and a token.

It is run as README.md says ("REST API and remote executors", step 2), from its code
blocks (tests/readme.py): the client packed by the README's tar line in the checkout,
unpacked into an empty folder, and the example run there by Debian's python3 with
nothing but the standard library (-I -S: no site-packages, no PYTHON* variables), in an
environment holding only PATH and HOME.
"""

import subprocess
import tarfile

import pytest

from tests.factories import make_resource, make_token, make_user
from tests.readme import PLAIN_PYTHON, client_archive_command, remote_executor_script
from tests.test_connector_concurrency import PROJECT_DIR
from tracking.models import Experiment, IntermediateResult, JobAttempt, MultipleResult, Resource, ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_FILES = [
    "examples/remote_executor.py",
    "tracking/__init__.py",
    "tracking/client.py",
    "tracking/interface.py",
    "tracking/scores.py",
]


def pack_client(tmp_path):
    """The client archive, made by the README's command in the checkout."""
    archive = tmp_path / "aupsite-client.tar"
    subprocess.run(client_archive_command(archive), shell=True, cwd=PROJECT_DIR, check=True)
    return archive


def run_readme_commands(script, folder):
    """Run the README's commands (a shell script) in `folder`, with a bare environment."""
    folder.mkdir(exist_ok=True)
    return subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_example(url, secret, tmp_path, *args):
    archive = pack_client(tmp_path)
    script = remote_executor_script(archive, url, token=secret, extra_args=args)
    return run_readme_commands(script, tmp_path / "elsewhere")


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
    # The client keeps its connection between calls: most connections pass one answer and
    # lose the next (sent again at once on a new connection); of every nine, one loses
    # its first answer and one is refused (both retried after a pause).
    kept = ("pass", "drop-response")
    plan = ["refuse" if index % 9 == 5 else "drop-response" if index % 9 == 1 else kept for index in range(400)]
    proxy = flaky_proxy(plan)

    result = run_example(proxy.url, secret, tmp_path, "--user", "alice", "--jobs", "3", "--steps", "5")

    assert result.returncode == 0, result.stderr
    made = plan[: proxy.connections]
    assert made.count(kept) >= 10 and made.count("drop-response") >= 3 and made.count("refuse") >= 3
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


def test_it_packs_only_the_client_and_runs_with_the_standard_library_alone(tmp_path):
    with tarfile.open(pack_client(tmp_path)) as archive:
        assert sorted(archive.getnames()) == CLIENT_FILES
    # What PLAIN_PYTHON imports from: the standard library only (no site-packages, so no
    # Django however it is installed here).
    probe = subprocess.run(
        [*PLAIN_PYTHON.split(), "-c", "import sys, importlib.util; print(importlib.util.find_spec('django')); print(sys.path)"],
        capture_output=True, text=True, check=True,
    )
    assert probe.stdout.splitlines()[0] == "None"
    assert "site-packages" not in probe.stdout and "dist-packages" not in probe.stdout


def test_it_finds_the_client_in_the_checkout_from_any_folder(live_server, tmp_path):
    alice = make_user("alice")
    make_resource("cpu")
    _, secret = make_token(alice, "remote")

    result = subprocess.run(
        [*PLAIN_PYTHON.split(), str(PROJECT_DIR / "examples" / "remote_executor.py"), "--url", live_server.url,
         "--token", secret, "--user", "alice", "--jobs", "2", "--steps", "3"],
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=300,
    )

    assert result.returncode == 0, result.stderr
    assert_recorded(jobs=2, steps=3)
