"""Auptimizer's SQLite database, as aupsite reads (aup_import) and writes (aup_export) it.

Auptimizer keeps its history in one SQLite file (``.aup/sqlite3.db``) with seven tables:
user, resource, experiment, job, job_attempt, intermediate_result and multiple_result.
Two variants exist:

- Auptimizer 2.0 on PyPI: ``experiment`` has no ``name`` column; the name is the
  ``name`` key of the JSON config in ``experiment.exp_config``.
- Auptimizer's master branch: ``experiment.name`` is a column (between ``uid`` and
  ``start_time``), and ``exp_config`` is whatever JSON the executor passed.

Databases made before Auptimizer 1.5 have no ``multiple_result`` table.

Times are integer Unix seconds. ``job.score`` and the other REAL columns hold floats,
NULL, or text: Auptimizer writes ``'EARLY STOPPED'`` as the score of an early-stopped
job, and its reset (``python -m aup.setupdb.reset``) writes ``-999`` into jobs that had
not ended.

This module uses neither Django nor Auptimizer.
"""

import datetime
import sqlite3
from dataclasses import dataclass

# Auptimizer's own status lists (its CHECK constraints): the interface's.
from tracking.interface import EXPERIMENT_STATUSES, JOB_STATUSES

# Columns in table order, as Auptimizer 2.0 creates them (aup/setupdb/sqlite.py).
COLUMNS = {
    "user": ("uid", "name", "permission"),
    "resource": ("rid", "name", "type", "status"),
    "experiment": ("eid", "uid", "start_time", "end_time", "status", "exp_config", "error_msg"),
    "job": ("jid", "score", "eid", "start_time", "end_time", "status", "job_config"),
    "job_attempt": ("jaid", "jid", "num", "rid", "start_time", "end_time"),
    "intermediate_result": ("irid", "num", "score", "jid", "receive_time"),
    "multiple_result": ("mrid", "label_order", "value", "receive_time", "jid", "irid", "eid", "is_last_result"),
}
OPTIONAL_TABLES = ("multiple_result",)


def _quoted(values):
    return ", ".join(f"'{value}'" for value in values)


def _ddl(with_name):
    """The CREATE TABLE statements of Auptimizer's schema: same tables, columns, types,
    keys and checks, so that Auptimizer's own code reads and writes the file as its own."""
    name_column = "name TEXT, " if with_name else ""
    return [
        "CREATE TABLE user (uid INTEGER PRIMARY KEY NOT NULL, name TEXT UNIQUE, permission BLOB)",
        "CREATE TABLE resource (rid INTEGER PRIMARY KEY NOT NULL, name TEXT, type TEXT, status TEXT)",
        "CREATE TABLE experiment ("
        "eid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, uid INTEGER, "
        f"{name_column}start_time INTEGER, end_time INTEGER, "
        f"status TEXT CHECK(status IN ({_quoted(EXPERIMENT_STATUSES)})), "
        "exp_config BLOB, error_msg TEXT NULL, "
        "FOREIGN KEY(uid) REFERENCES user(uid))",
        "CREATE TABLE job ("
        "jid INTEGER PRIMARY KEY NOT NULL, score REAL, eid INTEGER, start_time INTEGER, end_time INTEGER, "
        f"status TEXT CHECK(status IN ({_quoted(JOB_STATUSES)})), job_config BLOB, "
        "FOREIGN KEY(eid) REFERENCES experiment(eid))",
        "CREATE TABLE job_attempt ("
        "jaid INTEGER PRIMARY KEY NOT NULL, jid INTEGER, num INTEGER, rid INTEGER, "
        "start_time INTEGER, end_time INTEGER, "
        "FOREIGN KEY(jid) REFERENCES job(jid), FOREIGN KEY(rid) REFERENCES resource(rid))",
        "CREATE TABLE intermediate_result ("
        "irid INTEGER PRIMARY KEY NOT NULL, num INTEGER, score REAL, jid INTEGER, receive_time INTEGER, "
        "FOREIGN KEY(jid) REFERENCES job(jid))",
        # "INTERGER" is Auptimizer's own spelling; kept so the schema is exactly its
        # (SQLite gives the column INTEGER affinity all the same).
        "CREATE TABLE multiple_result ("
        "mrid INTEGER PRIMARY KEY NOT NULL, label_order INTEGER, value REAL, receive_time INTEGER, "
        "jid INTEGER, irid INTEGER, eid INTEGER, is_last_result INTERGER, "
        "FOREIGN KEY(jid) REFERENCES job(jid), FOREIGN KEY(irid) REFERENCES intermediate_result(irid), "
        "FOREIGN KEY(eid) REFERENCES experiment(eid))",
    ]


def create_schema(connection, with_name=False):
    """Create Auptimizer's tables in an empty SQLite database (the master-branch variant
    with ``experiment.name`` when `with_name`)."""
    for statement in _ddl(with_name):
        connection.execute(statement)


class NotAuptimizerDatabase(ValueError):
    """The file is missing, not SQLite, or not an Auptimizer database; the message says which."""


@dataclass(frozen=True)
class Layout:
    """What an Auptimizer database has beyond the tables every version has."""

    has_experiment_name: bool
    has_multiple_result: bool


def open_read_only(path):
    """Open an SQLite file for reading, never creating or changing it."""
    try:
        connection = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True)
        # SQLite reads the header lazily: ask for something so a file that is not SQLite fails here.
        connection.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise NotAuptimizerDatabase(f"{path} is not an SQLite database ({exc})") from None
    return connection


def _uri_path(path):
    # A file: URI treats '?' and '#' as delimiters; quote them (and '%').
    return str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def inspect(connection, path="the file"):
    """Check that the database is Auptimizer's (any version); say which variant it is."""
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing_tables = [table for table in COLUMNS if table not in tables and table not in OPTIONAL_TABLES]
        if missing_tables:
            raise NotAuptimizerDatabase(
                f"{path} is not an Auptimizer database: it has no table {', '.join(missing_tables)}"
            )
        for table, columns in COLUMNS.items():
            if table not in tables:
                continue
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            missing = [column for column in columns if column not in present]
            if missing:
                raise NotAuptimizerDatabase(
                    f"{path} is not an Auptimizer database: table {table} has no column {', '.join(missing)}"
                )
        experiment_columns = {row[1] for row in connection.execute("PRAGMA table_info(experiment)")}
    except sqlite3.DatabaseError as exc:
        raise NotAuptimizerDatabase(f"{path} cannot be read as SQLite: {exc}") from None
    return Layout(
        has_experiment_name="name" in experiment_columns,
        has_multiple_result="multiple_result" in tables,
    )


def to_datetime(value):
    """An Auptimizer time (Unix seconds, or NULL) as an aware UTC datetime; ValueError if it is none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a time in Unix seconds")
    try:
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{value!r} is not a time in Unix seconds") from None


def to_unix(moment):
    """An aware datetime as Auptimizer stores it: whole Unix seconds (or NULL)."""
    return None if moment is None else int(moment.timestamp() // 1)
