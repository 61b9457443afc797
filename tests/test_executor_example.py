"""The README's way to connect an executor works from a plain Python process."""

import os
import subprocess
import sys

import pytest

from tests.factories import make_resource, make_user
from tests.test_connector_concurrency import PROJECT_DIR, database_url
from tracking.models import Experiment, JobAttempt, MultipleResult, ResultLabel

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_records_an_experiment_from_a_script_outside_django(tmp_path):
    make_user("alice")
    make_resource("cpu")
    # Only what the README says to set, run from another folder.
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="aupsite.settings", DATABASE_URL=database_url())
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "examples" / "random_search.py"), "--user", "alice", "--jobs", "4", "--steps", "10"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr

    experiment = Experiment.objects.get()
    assert (experiment.name, experiment.status, experiment.owner.username) == ("random search", "FINISHED", "alice")
    assert f"experiment {experiment.pk} (random search)" in result.stdout
    assert list(experiment.jobs.values_list("status", flat=True)) == ["FINISHED"] * 4
    assert JobAttempt.objects.filter(job__experiment=experiment).count() == 5  # one retry
    assert sum(job.intermediate_results.count() for job in experiment.jobs.all()) == 40
    assert MultipleResult.objects.filter(experiment=experiment, is_last=True).count() == 8
    assert list(ResultLabel.objects.filter(experiment=experiment).values_list("name", flat=True)) == ["accuracy", "loss"]
