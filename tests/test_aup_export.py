"""manage.py aup_export: Auptimizer databases that Auptimizer 2.0 itself (installed from
PyPI by the test requirements) reads as its own, and that aup_import reads back."""

import configparser
import math
import re
import sqlite3
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.auptimizer import support
from tests.factories import make_resource, make_user
from tracking.connector import DjangoConnector
from tracking.interop.loader import import_auptimizer
from tracking.models import Experiment, ResultLabel

pytestmark = pytest.mark.django_db

NAN, INF = float("nan"), float("inf")


def aup_export(*arguments):
    out, err = StringIO(), StringIO()
    call_command("aup_export", *map(str, arguments), stdout=out, stderr=err)
    return out.getvalue()


@pytest.fixture
def connector():
    instance = DjangoConnector()
    yield instance
    instance.close()


@pytest.fixture
def resources(db):
    make_user("alice")
    return make_resource("cpu"), make_resource("gpu", "0")


def record_search(connector, resources, name="search"):
    """A finished experiment as Auptimizer records one: learning curves with two labeled
    results, a retried job, an early stop, a failure and a cancelled job."""
    cpu, gpu = (resource.pk for resource in resources)
    eid = connector.start_experiment(
        "alice", {"name": name, "target": "max", "resource_args": {"multi_res_labels": ["accuracy", "loss"]}}
    )
    curve = connector.job_started(eid, cpu, {"lr": 0.1})
    for accuracy in (0.5, 0.7, 0.9):
        irid = connector.save_intermediate_result(curve, accuracy)
        connector.save_multiple_results(curve, irid, eid, None, [accuracy, 1 - accuracy])
    connector.set_last_multiple_results(eid, curve, 2)
    connector.job_finished(cpu, curve, 0.9, "FINISHED")
    retried = connector.job_started(eid, cpu, {"lr": 0.2})
    connector.job_failed(cpu, retried)
    connector.job_retry(gpu, retried)
    connector.job_finished(gpu, retried, 0.8, "FINISHED")
    stopped = connector.job_started(eid, cpu, {"lr": 0.3})
    connector.save_intermediate_result(stopped, -1.5)
    connector.job_finished(cpu, stopped, "EARLY STOPPED", "EARLY_STOPPED")
    failed = connector.job_started(eid, cpu, {"lr": 0.4})
    connector.job_finished(cpu, failed, None, "FAILED")
    connector.log_error_message(eid, "Traceback: job 4 failed")
    cancelled = connector.job_started(eid, cpu, {"lr": 0.5})
    connector.job_finished(cpu, cancelled, None, None)
    connector.end_experiment(eid)
    return eid


def record_odd_values(connector, resources):
    """What real training also produces: NaN and infinities, in every kind of result."""
    cpu = resources[0].pk
    eid = connector.start_experiment("alice", {"name": "odd values", "resource_args": {"multi_res_labels": ["x"]}})
    diverged = connector.job_started(eid, cpu, {"lr": 9})
    irid = connector.save_intermediate_result(diverged, NAN)
    connector.save_multiple_results(diverged, irid, eid, ["x", "y"], [NAN, -INF])  # its own label names
    connector.set_last_multiple_results(eid, diverged, 2)
    connector.job_finished(cpu, diverged, NAN, "FINISHED")
    exploded = connector.job_started(eid, cpu, {"lr": 99})
    connector.save_intermediate_result(exploded, INF)
    connector.job_finished(cpu, exploded, INF, "FINISHED")
    return eid


@pytest.fixture
def auptimizer_schema(tmp_path):
    """A database made by Auptimizer 2.0's own setup."""
    import_auptimizer()
    from aup.setupdb import sqlite as setupdb

    config = configparser.ConfigParser()
    config["Auptimizer"] = {"SQLITE_FILE": str(tmp_path / "auptimizer.db")}
    setupdb.create_database(config, [], 0, "localhost")
    return tmp_path / "auptimizer.db"


def tables(path):
    """Each table's CREATE statement (whitespace aside), columns and foreign keys, and the indexes."""
    connection = sqlite3.connect(path)
    try:
        found = {
            name: (
                re.sub(r"\s+", "", sql).rstrip(";"),
                connection.execute(f"PRAGMA table_info({name})").fetchall(),
                sorted(connection.execute(f"PRAGMA foreign_key_list({name})").fetchall()),
            )
            for name, sql in connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if name != "sqlite_sequence"
        }
        indexes = sorted(connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"))
        return found, indexes
    finally:
        connection.close()


def test_it_writes_auptimizers_exact_schema(auptimizer_schema, tmp_path):
    aup_export(tmp_path / "export.db")

    assert tables(tmp_path / "export.db") == tables(auptimizer_schema)


def test_it_writes_the_master_branch_schema_on_request(auptimizer_schema, tmp_path, connector, resources):
    eid = record_search(connector, resources, name="named")

    aup_export(tmp_path / "export.db", "--schema", "master")

    ours, _ = tables(tmp_path / "export.db")
    theirs, _ = tables(auptimizer_schema)
    columns = [column[1] for column in ours["experiment"][1]]
    assert columns == ["eid", "uid", "name", "start_time", "end_time", "status", "exp_config", "error_msg"]
    assert {name: shape[1:] for name, shape in ours.items() if name != "experiment"} == {
        name: shape[1:] for name, shape in theirs.items() if name != "experiment"
    }
    exported = sqlite3.connect(tmp_path / "export.db").execute("SELECT eid, name FROM experiment").fetchall()
    assert exported == [(eid, "named")]


def test_it_is_read_by_auptimizers_own_connector(tmp_path, connector, resources):
    eid = record_search(connector, resources)
    aup_export(tmp_path / "export.db")
    import_auptimizer()
    from aup.ET.Connector.SQLiteConnector import SQLiteConnector

    theirs = SQLiteConnector(str(tmp_path / "export.db"))
    try:
        assert theirs.get_all_history(eid) == connector.get_all_history(eid)
        assert theirs.get_best_result(eid) == connector.get_best_result(eid) == [connector.get_running_job(eid)[0], 0.9]
        assert theirs.get_best_result(eid, maximize=False) == connector.get_best_result(eid, maximize=False)
        assert theirs.get_best_result_config(eid) == connector.get_best_result_config(eid)
        for jid in connector.get_running_job(eid):
            assert theirs.get_intermediate_results_job(jid) == connector.get_intermediate_results_job(jid)
        assert theirs.get_all_experiment("alice") == [eid]
        assert theirs.get_experiment_status(eid) == "FINISHED"
        assert theirs.get_resource_type() == connector.get_resource_type()
    finally:
        theirs.close()


def test_it_gives_back_the_same_data_through_aup_import(tmp_path, connector, resources):
    eids = [record_search(connector, resources), record_odd_values(connector, resources)]
    before = support.snapshots()

    aup_export(tmp_path / "export.db")
    for eid in eids:
        connector.delete_experiment(eid)
    call_command("aup_import", str(tmp_path / "export.db"), stdout=StringIO())

    after = support.snapshots()
    # Auptimizer keeps label names only in the config: the executor's own names, which
    # differ from its config's, come back in the config.
    assert after[1]["config"] == {"name": "odd values", "resource_args": {"multi_res_labels": ["x", "y"]}}
    after[1]["config"] = before[1]["config"]
    assert after == before
    odd = Experiment.objects.get(name="odd values")
    assert list(ResultLabel.objects.filter(experiment=odd).values_list("name", flat=True)) == ["x", "y"]
    assert [math.isnan(job.score_value) or job.score_value for job in odd.jobs.order_by("pk")] == [True, INF]


def test_it_exports_only_the_experiments_asked_for(tmp_path, connector, resources):
    record_search(connector, resources, name="left out")
    chosen = record_search(connector, resources, name="chosen")

    output = aup_export(tmp_path / "export.db", "--experiment", chosen)

    exported = sqlite3.connect(tmp_path / "export.db")
    assert exported.execute("SELECT eid, JSON_EXTRACT(exp_config, '$.name') FROM experiment").fetchall() == [(chosen, "chosen")]
    assert {eid for (eid,) in exported.execute("SELECT DISTINCT eid FROM job")} == {chosen}
    assert exported.execute("SELECT COUNT(*) FROM job_attempt").fetchone() == (6,)
    assert f"Wrote {tmp_path / 'export.db'}: 1 experiment(s), 5 job(s)" in output


def test_its_queries_do_not_grow_with_the_rows(tmp_path, connector, resources, django_assert_num_queries):
    for number in range(3):
        record_search(connector, resources, name=f"search {number}")

    # 1 the experiments, 2 their owners, 3 the resources, 4 the label names, then a count
    # and a streamed read for each of jobs (5, 6), attempts (7, 8), intermediate results
    # (9, 10) and labeled results (11, 12).
    with django_assert_num_queries(12):
        aup_export(tmp_path / "export.db")


def test_it_refuses_to_replace_a_file_unless_forced(tmp_path, connector, resources):
    record_search(connector, resources)
    target = tmp_path / "export.db"
    target.write_text("precious")

    with pytest.raises(CommandError, match="exists; use --force to replace it"):
        aup_export(target)
    assert target.read_text() == "precious"

    aup_export(target, "--force")
    assert sqlite3.connect(target).execute("SELECT COUNT(*) FROM job").fetchone() == (5,)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.db"]  # no temporary file left


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--experiment", "999"], "no experiment 999 in aupsite"),
        # Past 64 bits: no experiment, as any missing one (not the database's OverflowError).
        (["--experiment", "99999999999999999999999"], "no experiment 99999999999999999999999 in aupsite"),
        (["--experiment", "0"], "invalid experiment id value"),
        (["--experiment", "one"], "invalid experiment id value"),
        (["--schema", "1.5"], "invalid choice"),
    ],
)
def test_it_refuses_bad_arguments_and_writes_no_file(tmp_path, connector, resources, arguments, message):
    record_search(connector, resources)

    with pytest.raises(CommandError, match=message):
        aup_export(tmp_path / "export.db", *arguments)

    assert list(tmp_path.iterdir()) == []


def test_it_refuses_a_folder_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        aup_export(tmp_path / "missing" / "export.db")
