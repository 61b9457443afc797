"""The harness that runs Auptimizer's own connector tests from a checkout
(run_upstream_connector_tests.py) keeps working: a stand-in checkout holds a test file
written the way Auptimizer's are (our own words), importing the same names."""

import subprocess
import sys
from pathlib import Path

HARNESS = Path(__file__).with_name("run_upstream_connector_tests.py")

STAND_IN_TESTS = '''
import os
import unittest
from configparser import ConfigParser

from aup.ET.Connector.SQLiteConnector import SQLiteConnector
from aup.setupdb import sqlite


class SQLiteConnectorTestCase(unittest.TestCase):
    db_file = os.path.join("tests", "data", "sqlite3.db")
    config = ConfigParser()
    config.add_section("Auptimizer")
    config.set("Auptimizer", "SQLITE_FILE", db_file)
    config.set("Auptimizer", "gpu_mapping", '{"1": 0, "2": 1}')

    def setUp(self):
        sqlite.create_database(self.config, ["someone"], 1, "tester")

    def tearDown(self):
        os.remove(self.db_file)

    def test_setup_made_the_resources(self):
        connector = SQLiteConnector(self.db_file)
        self.assertListEqual(connector.get_resource_type(), ["gpu", "cpu", "passive"])
        self.assertEqual(len(connector.get_available_resource("someone", "gpu")), 2)

    def test_each_test_starts_empty_and_reset_ends_what_is_open(self):
        connector = SQLiteConnector(self.db_file)
        eid = connector.start_experiment("someone", "exp", "{}")
        self.assertEqual(connector.get_all_experiment(), [eid])
        jid = connector.job_started(eid, connector.get_available_resource("someone", "cpu")[0], "job")
        sqlite.reset(self.config)
        self.assertEqual(connector.get_experiment_status(eid), "FAILED")
        self.assertEqual(connector.get_all_history(eid)[0][0], jid)

    def test_a_failing_assertion_fails_the_run(self):
        self.assertEqual(%s, 1)
'''


def run_harness(tmp_path, failing_value):
    test_file = tmp_path / "checkout" / "tests" / "ET" / "Connector" / "test_SQLiteConnector.py"
    test_file.parent.mkdir(parents=True)
    test_file.write_text(STAND_IN_TESTS % failing_value)
    return subprocess.run(
        [sys.executable, str(HARNESS), str(tmp_path / "checkout")], capture_output=True, text=True, timeout=300
    )


def test_it_runs_tests_written_for_sqliteconnector_against_djangoconnector(tmp_path):
    run = run_harness(tmp_path, failing_value=1)
    assert run.returncode == 0, run.stderr
    assert "Ran 3 tests" in run.stderr
    assert run.stderr.count(" ... ok") == 3


def test_it_exits_1_when_one_of_their_tests_fails(tmp_path):
    run = run_harness(tmp_path, failing_value=2)
    assert run.returncode == 1
    assert "FAILED (failures=1)" in run.stderr


def test_it_says_what_it_needs_when_the_folder_is_not_a_checkout(tmp_path):
    run = subprocess.run([sys.executable, str(HARNESS), str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "give the root of an Auptimizer checkout" in run.stderr
