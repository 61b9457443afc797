"""The executor's two hot paths stay one statement each, on both databases.

save_intermediate_result and save_multiple_results run at every step of every job
(README, Performance). What they record is checked by the contract suite; these tests
check how: one statement per call, sent to the driver, prepared once on PostgreSQL.
"""

import pytest
from django.db import connection

from tests.factories import make_resources, make_user
from tracking.connector import DjangoConnector
from tracking.interface import NotFoundError
from tracking.models import IntermediateResult, MultipleResult

pytestmark = pytest.mark.django_db(transaction=True)

CALLS = 5


@pytest.fixture
def job():
    make_user("alice")
    [resource] = make_resources(1)
    connector = DjangoConnector()
    eid = connector.start_experiment("alice", {"name": None, "target": "max"})
    jid = connector.start_job(eid, resource.pk, {"lr": 0.1})
    yield connector, eid, jid
    connector.close()


def record_steps(connector, eid, jid, calls=CALLS):
    for step in range(calls):
        irid = connector.save_intermediate_result(jid, step / 10)
        connector.save_multiple_results(jid, irid, eid, ["accuracy", "loss"], [step / 10, 1 - step / 10])


def statements_sent_to_sqlite(work):
    """The SQL statements SQLite itself ran during work(), BEGIN and COMMIT included."""
    statements = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(statements.append)
    try:
        work()
    finally:
        connection.connection.set_trace_callback(None)
    return statements


def prepared_statement_runs():
    """[(statement, times run)] of the statements prepared on this PostgreSQL connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements ORDER BY statement")
        return cursor.fetchall()


def test_each_result_is_written_by_one_statement(job):
    connector, eid, jid = job
    # The first labeled result also records the experiment's label names, in a
    # transaction of its own; the steps after it are the hot path.
    record_steps(connector, eid, jid, calls=1)
    if connection.vendor == "sqlite":
        statements = statements_sent_to_sqlite(lambda: record_steps(connector, eid, jid))
        # No BEGIN or COMMIT: each INSERT is its own transaction.
        assert [statement.split()[:3] for statement in statements] == [
            ["INSERT", "INTO", "tracking_intermediateresult"],
            ["INSERT", "INTO", "tracking_multipleresult"],
        ] * CALLS
    else:
        record_steps(connector, eid, jid)
        # One prepared call each: the job's lock and the step's insert happen inside
        # the function of migration 0007. The label names are read once, at the
        # connector's first labeled result (then known: no upsert while they stay).
        assert [(statement.split("(")[0].split(" WHERE")[0], runs) for statement, runs in prepared_statement_runs()] == [
            ("INSERT INTO tracking_multipleresult ", 1 + CALLS),
            ("SELECT name FROM tracking_resultlabel", 1),
            ("SELECT tracking_save_intermediate_result", 1 + CALLS),
        ]
    numbers = IntermediateResult.objects.filter(job_id=jid).order_by("number").values_list("number", flat=True)
    assert list(numbers) == list(range(1 + CALLS))
    assert MultipleResult.objects.filter(job_id=jid).count() == 2 * (1 + CALLS)


def test_the_hot_paths_work_without_prepared_statements(job):
    # POSTGRES_PREPARED_STATEMENTS=0, for a pooler that cannot keep them.
    connector, eid, jid = job
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements exist on PostgreSQL only")
    connection.ensure_connection()
    connection.connection.prepare_threshold = None
    try:
        record_steps(connector, eid, jid)
        assert prepared_statement_runs() == []
    finally:
        connection.close()
    assert IntermediateResult.objects.filter(job_id=jid).count() == CALLS


def test_an_unknown_job_writes_nothing_through_the_hot_path(job):
    connector, eid, jid = job
    with pytest.raises(NotFoundError, match="job 999999 does not exist"):
        connector.save_intermediate_result(999999, 0.5)
    with pytest.raises(NotFoundError, match="job 999999 does not exist"):
        connector.save_multiple_results(999999, None, eid, ["accuracy"], [0.5])
    assert not IntermediateResult.objects.exists()
    assert not MultipleResult.objects.exists()


def test_sqlite_checkpoints_every_4000_wal_pages():
    if connection.vendor != "sqlite":
        pytest.skip("a PRAGMA of SQLite")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 4000
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
