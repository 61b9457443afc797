"""manage.py aup_import: Auptimizer databases, written by Auptimizer 2.0 itself (installed
from PyPI by the test requirements) or by hand for what it can write but rarely does."""

import configparser
import datetime
import json
import os
import shutil
import sqlite3
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.auptimizer import support
from tests.factories import make_resource, make_resources, make_user
from tracking.connector import DjangoConnector
from tracking.interface import MAX_NESTING
from tracking.interop import schema
from tracking.interop.loader import import_auptimizer
from tracking.models import (
    Experiment,
    ImportedExperiment,
    IntermediateResult,
    Job,
    JobAttempt,
    MultipleResult,
    Resource,
    ResultLabel,
)

pytestmark = pytest.mark.django_db

MODELS = (Experiment, ImportedExperiment, Job, JobAttempt, IntermediateResult, MultipleResult, ResultLabel, Resource)


def aup_import(*arguments):
    out, err = StringIO(), StringIO()
    call_command("aup_import", *map(str, arguments), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def row_counts():
    counts = {model.__name__: model.objects.count() for model in MODELS}
    counts["User"] = get_user_model().objects.count()
    return counts


def utc(seconds):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


@pytest.fixture(scope="module")
def auptimizer_database(tmp_path_factory):
    """A database made by Auptimizer's own setup and run: a random search with two jobs
    at a time, a crashed attempt retried, an early stop and two labeled results."""
    folder = support.project(tmp_path_factory.mktemp("auptimizer") / "project", "experiment.json")
    return support.run_reference(folder, "experiment.json", "alice")


@pytest.fixture
def database(auptimizer_database, tmp_path):
    """A copy of it that a test may change."""
    path = tmp_path / "sqlite3.db"
    shutil.copy(auptimizer_database, path)
    return path


@pytest.fixture
def auptimizer(tmp_path):
    """A database made by Auptimizer's own setup, and Auptimizer's own connector to it."""
    aup = import_auptimizer()
    from aup.ET.Connector.SQLiteConnector import SQLiteConnector
    from aup.setupdb import sqlite as setupdb

    config = configparser.ConfigParser()
    config["Auptimizer"] = {"SQLITE_FILE": str(tmp_path / "sqlite3.db")}
    setupdb.create_database(config, ["alice"], 1, "localhost")
    connector = SQLiteConnector(str(tmp_path / "sqlite3.db"))
    yield aup, config, connector, tmp_path / "sqlite3.db"
    if not connector.is_closed():
        connector.close()


def test_it_imports_a_database_written_by_auptimizers_own_setup_and_run(database):
    output = aup_import(database)

    experiment = Experiment.objects.get()
    assert support.aupsite_summary(experiment) == support.auptimizer_summary(database)
    source = sqlite3.connect(database)
    name, status, start, end, error = source.execute(
        "SELECT JSON_EXTRACT(exp_config, '$.name'), status, start_time, end_time, error_msg FROM experiment"
    ).fetchone()
    assert (experiment.name, experiment.status, experiment.error_msg) == (name, status, error)
    assert (experiment.start_time, experiment.end_time) == (utc(start), utc(end))
    assert list(experiment.jobs.order_by("pk").values_list("start_time", "end_time")) == [
        (utc(start), utc(end)) for start, end in source.execute("SELECT start_time, end_time FROM job ORDER BY jid")
    ]
    # Where each attempt ran: the file's resources, matched or created (out of service).
    assert sorted(Resource.objects.values_list("type", "name", "in_service")) == [
        ("cpu", "localhost", False), ("cpu", "localhost", False), ("passive", "localhost", False),
    ]
    ran_on = source.execute(
        "SELECT r.type, r.name FROM job_attempt a JOIN resource r ON r.rid = a.rid ORDER BY a.jid, a.num"
    ).fetchall()
    attempts = JobAttempt.objects.filter(job__experiment=experiment).order_by("job", "number").select_related("resource")
    assert [(attempt.resource.type, attempt.resource.name) for attempt in attempts] == ran_on
    assert experiment.owner.username == "alice"
    assert not experiment.owner.has_usable_password()
    assert ImportedExperiment.objects.get().source_eid == 1
    assert "Created user 'alice'" in output
    assert "Added 3 resource(s), out of service" in output


def test_it_adds_nothing_when_the_same_file_is_imported_again(database, tmp_path):
    aup_import(database)
    counts = row_counts()

    output = aup_import(database)
    copy = tmp_path / "elsewhere" / "copy.db"
    copy.parent.mkdir()
    shutil.copy(database, copy)
    aup_import(copy)

    assert row_counts() == counts
    assert "Imported 0 experiment(s)" in output
    assert "Skipped 1 experiment(s) imported before." in output


def test_it_adds_the_new_experiments_of_a_later_version_of_the_file(auptimizer):
    aup, _, connector, path = auptimizer
    first = connector.start_experiment("alice", {"name": "first"})
    connector.end_experiment(first)
    aup_import(path)

    second = connector.start_experiment("alice", {"name": "second"})
    connector.end_experiment(second)
    aup_import(path)

    assert list(Experiment.objects.order_by("pk").values_list("name", flat=True)) == ["first", "second"]


def test_it_uses_the_users_and_resources_aupsite_has(database):
    alice = make_user("alice")
    alice.set_password("a long passphrase")
    alice.save()
    cpus = make_resources(2, "cpu", "localhost")
    passive = make_resource("passive", "localhost")
    make_resource("cpu", "localhost")  # one more than the file has: left alone

    output = aup_import(database)

    assert Experiment.objects.get().owner == alice
    alice.refresh_from_db()
    assert alice.check_password("a long passphrase")
    assert Resource.objects.count() == 4
    used = set(JobAttempt.objects.values_list("resource", flat=True))
    assert used <= {resource.pk for resource in cpus}
    assert passive.pk not in used
    assert "Created user" not in output and "Added" not in output


def test_it_gives_the_experiments_to_the_mapped_user(database):
    bob = make_user("bob")

    aup_import(database, "--user-map", "alice=bob")

    assert Experiment.objects.get().owner == bob
    assert not get_user_model().objects.filter(username="alice").exists()


@pytest.mark.parametrize(
    "mapping, message",
    [
        ("alice=carol", "--user-map alice=carol: aupsite has no user 'carol'"),
        ("mallory=bob", "has no user 'mallory'"),
        ("alice", "invalid OLD=NEW user mapping value"),
        ("=bob", "invalid OLD=NEW user mapping value"),
    ],
)
def test_it_refuses_a_bad_user_mapping_and_writes_nothing(database, mapping, message):
    make_user("bob")
    counts = row_counts()

    with pytest.raises(CommandError, match=message):
        aup_import(database, "--user-map", mapping)

    assert row_counts() == counts


def test_it_renames_an_experiment_whose_name_aupsite_has(database):
    make_user("alice")
    DjangoConnector().start_experiment("alice", {"name": "interop random search"})

    output = aup_import(database)

    imported = ImportedExperiment.objects.get().experiment
    assert imported.name == "interop random search (1)"
    assert imported.config["name"] == "interop random search (1)"
    assert "Renamed experiment 'interop random search' to 'interop random search (1)'" in output


def test_it_keeps_every_kind_of_score_auptimizer_writes(auptimizer):
    aup, config, connector, path = auptimizer
    from aup.setupdb import sqlite as setupdb

    eid = connector.start_experiment("alice", {"name": "scores"})
    [rid] = connector.get_available_resource("alice", "cpu")
    finished = connector.job_started(eid, rid, {"x": 1})
    connector.save_intermediate_result(finished, float("nan"))  # SQLite keeps NULL
    connector.save_intermediate_result(finished, 0.25)
    connector.job_finished(rid, finished, 0.5, "FINISHED")
    cancelled = connector.job_started(eid, rid, {"x": 2})
    connector.job_finished(rid, cancelled, None, None)
    stopped = connector.job_started(eid, rid, {"x": 3})
    connector.job_finished(rid, stopped, "EARLY STOPPED", "EARLY_STOPPED")
    connector.job_started(eid, rid, {"x": 4})  # never ended
    connector.close()
    setupdb.reset(config)  # Auptimizer's reset: jobs that never ended get -999

    output = aup_import(path)

    jobs = Job.objects.order_by("pk")
    assert [(job.status, job.score_value) for job in jobs] == [
        ("FINISHED", 0.5), (None, None), ("EARLY_STOPPED", "EARLY STOPPED"), ("RUNNING", -999.0),
    ]
    assert jobs[3].end_time is not None  # the reset ended it
    assert list(jobs[0].intermediate_results.order_by("number").values_list("score", flat=True)) == [None, 0.25]
    assert Job.objects.filter(score=-999).count() == 1  # a number, as the file says
    assert "2 experiment(s) and job(s) were RUNNING" in output


def test_it_reads_the_master_branch_schema_with_a_name_column(tmp_path):
    path = tmp_path / "sqlite3.db"
    source = sqlite3.connect(path)
    schema.create_schema(source, with_name=True)
    source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
    source.execute("INSERT INTO resource VALUES (1, 'localhost', 'cpu', 'free')")
    source.execute(
        "INSERT INTO experiment (eid, uid, name, start_time, end_time, status, exp_config) "
        "VALUES (1, 1, 'named in a column', 1700000000, 1700000100, 'FINISHED', ?)",
        ('{"proposer": "random", "resource_args": {"multi_res_labels": ["acc"]}}',),
    )
    source.execute("INSERT INTO job VALUES (1, 0.75, 1, 1700000000, 1700000050, 'FINISHED', '{\"x\": 1}')")
    source.execute("INSERT INTO job_attempt VALUES (1, 1, 0, 1, 1700000000, 1700000050)")
    source.execute("INSERT INTO intermediate_result VALUES (1, 0, 0.75, 1, 1700000040)")
    source.execute("INSERT INTO multiple_result VALUES (1, 1, 0.9, 1700000040, 1, 1, 1, 1)")
    source.commit()

    aup_import(path)

    experiment = Experiment.objects.get()
    assert experiment.name == "named in a column"
    assert experiment.config == {"proposer": "random", "resource_args": {"multi_res_labels": ["acc"]}}
    assert list(experiment.result_labels.values_list("name", flat=True)) == ["acc"]
    [labeled] = MultipleResult.objects.all()
    assert (labeled.value, labeled.is_last, labeled.intermediate_result.score) == (0.9, True, 0.75)


def test_it_reads_a_database_older_than_labeled_results(database):
    with sqlite3.connect(database) as source:
        source.execute("DROP TABLE multiple_result")  # Auptimizer before 1.5

    aup_import(database)

    assert Job.objects.count() == 5
    assert not MultipleResult.objects.exists()


def test_it_numbers_steps_and_attempts_in_the_files_order(tmp_path):
    path = tmp_path / "sqlite3.db"
    with sqlite3.connect(path) as source:
        schema.create_schema(source)
        source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
        source.execute("INSERT INTO experiment (eid, uid, status, exp_config) VALUES (1, 1, 'FINISHED', '{}')")
        source.execute("INSERT INTO job (jid, eid, status) VALUES (1, 1, 'FINISHED')")
        # A retry recorded with no number (Auptimizer's start_job_attempt on a job without
        # attempts) and steps with a repeated number.
        source.executemany("INSERT INTO job_attempt (jaid, jid, num) VALUES (?, 1, ?)", [(1, None), (2, 0)])
        source.executemany(
            "INSERT INTO intermediate_result VALUES (?, ?, ?, 1, 1700000000)", [(1, 0, 0.1), (2, 1, 0.2), (3, 1, 0.3)]
        )

    aup_import(path)

    assert list(JobAttempt.objects.order_by("number").values_list("number", "resource")) == [(0, None), (1, None)]
    assert list(IntermediateResult.objects.order_by("number").values_list("number", "score")) == [
        (0, 0.1), (1, 0.2), (2, 0.3),
    ]


def write_file(path, content):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing.db", "no such file"),
        (lambda tmp: tmp, "is not a file"),
        (lambda tmp: write_file(tmp / "notes.txt", b"not a database at all, just some text" * 10), "is not an SQLite database"),
        (lambda tmp: write_file(tmp / "empty.db", b""), "is not an Auptimizer database: it has no table user, resource"),
        (
            lambda tmp: sqlite3.connect(tmp / "other.db").execute("CREATE TABLE notes (text TEXT)") and tmp / "other.db",
            "is not an Auptimizer database: it has no table",
        ),
    ],
)
def test_it_refuses_what_is_not_an_auptimizer_database(tmp_path, make, message):
    path = make(tmp_path)

    with pytest.raises(CommandError, match=message):
        aup_import(path)

    assert not Experiment.objects.exists()


def test_it_refuses_a_table_without_its_columns(database):
    with sqlite3.connect(database) as source:
        source.execute("ALTER TABLE job DROP COLUMN job_config")

    with pytest.raises(CommandError, match="table job has no column job_config"):
        aup_import(database)


@pytest.mark.parametrize(
    "change, message",
    [
        ("UPDATE user SET name = 'not a valid name!'", "user 'not a valid name!' cannot be an aupsite user"),
        ("UPDATE experiment SET uid = 9", "experiment 1: its user \\(uid 9\\) is not in the user table"),
        ("UPDATE experiment SET exp_config = '{nope'", "experiment 1: exp_config is not valid JSON"),
        ("UPDATE experiment SET exp_config = '[1]'", "exp_config must be a JSON object"),
        ("UPDATE experiment SET start_time = 'yesterday'", "experiment 1: start_time: 'yesterday' is not a time"),
        ("UPDATE job SET eid = 7 WHERE jid = 5", "job 5: its experiment 7 is not in the experiment table"),
        ("UPDATE job SET status = 'DONE' WHERE jid = 5", "job 5: status 'DONE' is not one of Auptimizer's"),
        ("UPDATE job SET job_config = '{\"x\": NaN}' WHERE jid = 2", "job 2: job_config is not valid JSON"),
        ("UPDATE job SET score = x'00' WHERE jid = 2", "job 2: score must be a number, text or NULL"),
        ("UPDATE intermediate_result SET jid = 99 WHERE irid = 3", "its job 99 is not in the job table"),
        ("UPDATE intermediate_result SET receive_time = NULL WHERE irid = 3", "it has no receive_time"),
        ("UPDATE multiple_result SET label_order = 0 WHERE mrid = 28", "multiple result 28: label_order must be"),
        ("UPDATE multiple_result SET jid = 99 WHERE mrid = 28", "multiple result 28: its job 99 is not in the job table"),
        # What aupsite could store but never show, or not store at all (tracking.interface.check_storable).
        ("UPDATE experiment SET start_time = x'0102'", "experiment 1: start_time: b'.x01.x02' is not a time in Unix seconds"),
        ("UPDATE experiment SET exp_config = '{\"name\": \"a\\udfff\"}'", "experiment 1: exp_config contains a lone surrogate \\(U\\+DFFF\\)"),
        (
            "UPDATE experiment SET exp_config = '{\"resource_args\": {\"multi_res_labels\": [\"acc\", \"\\ud800\"]}}'",
            "experiment 1: exp_config contains a lone surrogate \\(U\\+D800\\)",
        ),
        ("UPDATE experiment SET exp_config = '{\"name\": \"a\\u0000b\"}'", "experiment 1: exp_config contains a NUL character"),
        ("UPDATE experiment SET error_msg = 'a' || char(0) || 'b'", "experiment 1: error_msg contains a NUL character"),
        ("UPDATE job SET job_config = '{\"\\udfff\": 1}' WHERE jid = 2", "job 2: job_config contains a lone surrogate"),
        ("UPDATE job SET job_config = '{\"x\": 1e999}' WHERE jid = 2", "job 2: job_config is not valid JSON \\(1e999 is not a finite"),
        ("UPDATE job SET score = 'early' || char(0) WHERE jid = 2", "job 2: score contains a NUL character"),
        ("UPDATE user SET name = 'al' || char(0) || 'ice'", "experiment 1: the name of its user \\(uid 1\\) contains a NUL"),
        ("UPDATE resource SET name = 'gpu' || char(0) WHERE rid = 1", "resource 1: name contains a NUL character"),
        # A label longer than aupsite keeps is refused, not cut (the connector refuses it too).
        (
            "UPDATE experiment SET exp_config = "
            "'{\"resource_args\": {\"multi_res_labels\": [\"acc\", \"' || replace(hex(zeroblob(128)), '0', 'x') || '\"]}}'",
            "experiment 1: a label name of resource_args.multi_res_labels is 256 characters long; aupsite keeps at most 255",
        ),
        # More labels than an experiment may have (tracking.interface.MAX_LABELS).
        (
            "UPDATE experiment SET exp_config = '{\"resource_args\": {\"multi_res_labels\": ["
            + ", ".join(f'\"l{n}\"' for n in range(101))
            + "]}}'",
            "experiment 1: resource_args.multi_res_labels names 101 labels; aupsite keeps at most 100",
        ),
    ],
)
def test_it_writes_nothing_when_a_row_is_bad(database, change, message):
    # The file is read table by table: the last rows are only seen after experiments,
    # jobs and results were written, and all of it is rolled back.
    with sqlite3.connect(database) as source:
        source.execute("PRAGMA ignore_check_constraints = ON")
        source.execute(change)
    counts = row_counts()

    with pytest.raises(CommandError, match=message) as error:
        aup_import(database)

    assert "Nothing was imported." in str(error.value)
    assert row_counts() == counts


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 100_000])
def test_it_refuses_a_config_nested_too_deep_and_writes_nothing(database, depth):
    with sqlite3.connect(database) as source:
        source.execute("UPDATE job SET job_config = ? WHERE jid = 2", ('{"x": ' + "[" * depth + "]" * depth + "}",))
    counts = row_counts()

    with pytest.raises(CommandError, match=f"job 2: job_config nests more than {MAX_NESTING} levels") as error:
        aup_import(database)

    assert "Nothing was imported." in str(error.value)
    assert row_counts() == counts


def test_it_imports_a_label_of_the_longest_length_aupsite_keeps(database):
    label = "x" * 255
    with sqlite3.connect(database) as source:
        source.execute("UPDATE experiment SET exp_config = ?", (json.dumps({"resource_args": {"multi_res_labels": [label]}}),))

    aup_import(database)

    assert list(ResultLabel.objects.values_list("name", flat=True)) == [label]


def test_it_refuses_an_untyped_table_whose_eid_is_not_a_number(tmp_path):
    # SQLite keeps any value in a column declared without a type: Auptimizer's schema
    # types its columns, but a file made by hand need not.
    path = tmp_path / "sqlite3.db"
    with sqlite3.connect(path) as source:
        for table, columns in schema.COLUMNS.items():
            source.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
        source.execute("INSERT INTO experiment (eid, uid, status, exp_config) VALUES ('abc', 1, 'FINISHED', '{}')")
        source.execute("INSERT INTO job (jid, eid, status, job_config) VALUES (1, 'abc', 'FINISHED', '{}')")

    with pytest.raises(CommandError, match="experiment 'abc': eid must be a whole number, not 'abc'") as error:
        aup_import(path)

    assert "Nothing was imported." in str(error.value)
    assert row_counts() == {name: 0 for name in row_counts()}


def test_it_imports_a_file_whose_name_is_not_utf8(tmp_path):
    with sqlite3.connect(tmp_path / "sqlite3.db") as source:
        schema.create_schema(source)
        source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
        source.execute("INSERT INTO experiment (eid, uid, status, exp_config) VALUES (1, 1, 'FINISHED', '{}')")
    path = os.fsdecode(os.fsencode(tmp_path) + b"/\xff.db")  # Python holds the byte as "\udcff"
    os.rename(tmp_path / "sqlite3.db", path)

    aup_import(path)

    assert ImportedExperiment.objects.get().source_file == f"{tmp_path.resolve()}/\ufffd.db"


def big_database(path, jobs, steps):
    with sqlite3.connect(path) as source:
        schema.create_schema(source)
        source.execute("INSERT INTO user VALUES (1, 'alice', 'all')")
        source.execute("INSERT INTO resource VALUES (1, 'localhost', 'cpu', 'free')")
        source.execute(
            "INSERT INTO experiment (eid, uid, start_time, status, exp_config) VALUES (1, 1, 1700000000, 'FINISHED', ?)",
            ('{"name": "big", "resource_args": {"multi_res_labels": ["a", "b"]}}',),
        )
        source.executemany(
            "INSERT INTO job VALUES (?, ?, 1, 1700000000, 1700000100, 'FINISHED', '{}')",
            [(jid, jid / 10) for jid in range(1, jobs + 1)],
        )
        source.executemany(
            "INSERT INTO job_attempt VALUES (?, ?, 0, 1, 1700000000, 1700000100)", [(jid, jid) for jid in range(1, jobs + 1)]
        )
        source.executemany(
            "INSERT INTO intermediate_result VALUES (?, ?, ?, ?, 1700000000)",
            [((jid - 1) * steps + step + 1, step, step / steps, jid) for jid in range(1, jobs + 1) for step in range(steps)],
        )
        source.executemany(
            "INSERT INTO multiple_result (label_order, value, receive_time, jid, irid, eid, is_last_result) "
            "VALUES (?, ?, 1700000000, ?, ?, 1, ?)",
            [
                (order, step * order, jid, (jid - 1) * steps + step + 1, int(step == steps - 1))
                for jid in range(1, jobs + 1) for step in range(steps) for order in (1, 2)
            ],
        )
    return path


def test_it_imports_a_big_file_in_batches_with_a_progress_bar(tmp_path, django_assert_max_num_queries):
    path = big_database(tmp_path / "big.db", jobs=100, steps=40)  # 4,000 steps, 8,000 labeled values

    # Rows go in by the batch, never one by one (12,000 queries): a few queries for
    # users, resources and experiments, and one INSERT per batch of each table, whose
    # size is bounded by the database's limit on query parameters (999 on SQLite).
    with django_assert_max_num_queries(150):
        output = aup_import(path)

    assert (Job.objects.count(), IntermediateResult.objects.count(), MultipleResult.objects.count()) == (100, 4000, 8000)
    assert MultipleResult.objects.filter(is_last=True).count() == 200
    assert "multiple_result      [##############################] 8000/8000" in output
    assert "intermediate_result" not in output  # fewer rows than a progress bar is for
