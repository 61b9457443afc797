"""tracking.standalone: a plain Python process imports the connector with nothing set up."""

import os
import subprocess
import sys

from tests.test_connector_concurrency import PROJECT_DIR


def test_it_sets_django_up_with_the_default_settings_when_nothing_has(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(PROJECT_DIR)
    script = (
        "import os\n"
        "from tracking.connector import DjangoConnector\n"
        "from django.apps import apps\n"
        "print(apps.ready, os.environ['DJANGO_SETTINGS_MODULE'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "aupsite.settings"]

