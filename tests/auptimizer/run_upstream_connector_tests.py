"""Run Auptimizer's own connector tests, from a checkout of its repository, against DjangoConnector.

    git clone https://github.com/LGE-ARC-AdvancedAI/auptimizer /tmp/auptimizer
    .venv/bin/python tests/auptimizer/run_upstream_connector_tests.py /tmp/auptimizer

Auptimizer's test files are in its repository only (no package registry ships them), and
their code is not ours to copy, so `make test` cannot run them; test_auptimizer_scenarios.py
runs their scenarios in our words instead. This script runs the files themselves, unchanged,
for anyone with a checkout: it points the names they import at aupsite (`SQLiteConnector(file)`
becomes a `DjangoConnector()`, `aup.setupdb.sqlite.create_database` empties a throwaway
database and runs `manage.py aup_setup` with the same users and resources, `reset` runs
aupsite's recovery on every experiment still open) and runs them with unittest.

Expected with Auptimizer 2.0's tests/ET/Connector/test_SQLiteConnector.py: 6 of its 9 tests
pass; the 3 others stop where they leave the connector's interface:
- test_job_attempt and test_get_available_resource read SQLite tables through
  `connector.cursor` (a DjangoConnector has no cursor; test_auptimizer_scenarios reads the
  same rows through the models);
- test_job expects `sqlite3.IntegrityError` for a job on a resource that does not exist,
  where DjangoConnector raises `NotFoundError` (the contract's named exception) and writes
  nothing.
The exit status is unittest's: 1 while any test fails, as it does today for those three.
"""

import argparse
import json
import os
import sys
import tempfile
import types
import unittest
from io import StringIO
from pathlib import Path

CONNECTOR_TESTS = Path("tests", "ET", "Connector", "test_SQLiteConnector.py")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of Auptimizer's repository")
    args = parser.parse_args()
    test_file = args.checkout / CONNECTOR_TESTS
    if not test_file.is_file():
        parser.error(f"{test_file} does not exist: give the root of an Auptimizer checkout")

    workdir = Path(tempfile.mkdtemp(prefix="aupsite-upstream-"))
    # Before Django is set up: the throwaway database, never the project's own.
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aupsite.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    install_stand_ins(call_command)
    # Their tests write and remove tests/data/sqlite3.db relative to the current folder.
    os.chdir(workdir)
    sys.path.insert(0, str(test_file.parent))
    suite = unittest.defaultTestLoader.loadTestsFromName(test_file.stem)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


def install_stand_ins(call_command):
    """Put aupsite behind the module names the tests import (Auptimizer itself is not imported)."""
    from tracking import recovery
    from tracking.connector import DjangoConnector
    from tracking.models import Experiment

    def create_database(config, usernames, cpu, name):
        call_command("flush", interactive=False, verbosity=0)
        gpus = ",".join(sorted(json.loads(config.get("Auptimizer", "gpu_mapping", fallback="{}"))))
        for username in usernames:
            options = ["--user", username, "--cpu", str(cpu), "--passive"] + (["--gpu", gpus] if gpus else [])
            call_command("aup_setup", *options, stdout=StringIO())
        # Their tearDown removes the SQLite file it expects this to have made.
        database_file = Path(config.get("Auptimizer", "SQLITE_FILE"))
        database_file.parent.mkdir(parents=True, exist_ok=True)
        database_file.touch()

    def reset(config):
        still_open = list(Experiment.objects.filter(end_time__isnull=True).values_list("pk", flat=True))
        if still_open:
            recovery.reset(eids=still_open)

    modules = {
        name: types.ModuleType(name)
        for name in ("aup", "aup.ET", "aup.ET.Connector", "aup.ET.Connector.SQLiteConnector", "aup.setupdb", "aup.setupdb.sqlite")
    }
    modules["aup.ET.Connector.SQLiteConnector"].SQLiteConnector = lambda filename: DjangoConnector()
    modules["aup.setupdb.sqlite"].create_database = create_database
    modules["aup.setupdb.sqlite"].reset = reset
    modules["aup.setupdb"].sqlite = modules["aup.setupdb.sqlite"]
    sys.modules.update(modules)


if __name__ == "__main__":
    sys.exit(main())
