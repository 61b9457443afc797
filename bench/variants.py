"""What the write-path benchmarks run: the same executor work through each contender.

Each class is instantiated inside its own process by bench.workers.Worker, with its
environment (DATABASE_URL, SQLITE_SYNCHRONOUS) already set.
"""

import os
import sqlite3
import time

STEPS = 100
LABELS = ["accuracy", "loss"]
USER = "bench"


def job_lifecycle(connector, eid, rid, steps=STEPS):
    """One job as an executor records it: started, `steps` results with two labels each, finished."""
    jid = connector.job_started(eid, rid, {"lr": 0.1, "layers": 3})
    for step in range(steps):
        irid = connector.save_intermediate_result(jid, step / steps)
        connector.save_multiple_results(jid, irid, eid, LABELS, [step / steps, 1 - step / steps])
    connector.job_finished(rid, jid, 0.5, "FINISHED")
    return jid


def _timed(work, *args):
    start = time.perf_counter()
    work(*args)
    return time.perf_counter() - start


def setup_django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aupsite.settings")
    django.setup()


class DjangoVariant:
    """aupsite's DjangoConnector on the database named by DATABASE_URL."""

    def __init__(self, preload_results=0, migrate=True):
        setup_django()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from tracking.connector import DjangoConnector
        from tracking.models import Resource

        if migrate:
            call_command("migrate", verbosity=0)
        get_user_model().objects.get_or_create(username=USER)
        self.connector = DjangoConnector()
        self.eid = self.connector.start_experiment(USER, {"name": None, "target": "max"})
        self.rid = Resource.objects.create(name="bench", type="cpu").pk
        if preload_results:
            self._preload(preload_results)
        self.jid = self.connector.start_job(self.eid, self.rid, {})

    def _preload(self, count):
        """Store `count` intermediate results (and two labeled results each) in bulk,
        in other jobs of another experiment, as a long-used database holds them."""
        from django.utils import timezone

        from tracking.models import Experiment, IntermediateResult, Job, MultipleResult

        now = timezone.now()
        owner = Experiment.objects.get(pk=self.eid).owner
        history = Experiment.objects.create(owner=owner, name="history", status="FINISHED")
        jobs = Job.objects.bulk_create(
            [Job(experiment=history, number=n, status="FINISHED", score=0.5) for n in range(1, 1 - (-count // STEPS))]
        )
        for start in range(0, count, 5000):
            results = IntermediateResult.objects.bulk_create(
                IntermediateResult(job=jobs[index // STEPS], number=index % STEPS, score=0.5, receive_time=now)
                for index in range(start, min(count, start + 5000))
            )
            MultipleResult.objects.bulk_create(
                MultipleResult(
                    job_id=result.job_id, intermediate_result=result, experiment=history, label_order=order, value=0.5, receive_time=now
                )
                for result in results
                for order in (1, 2)
            )

    def lifecycle(self):
        return _timed(job_lifecycle, self.connector, self.eid, self.rid)

    def writers_setup(self, writers):
        """An experiment and one cpu resource per writer, for bench.many_writers."""
        from tracking.models import Resource

        eid = self.connector.start_experiment(USER, {"name": None, "target": "max"})
        rids = [Resource.objects.create(name=f"writer {index}", type="cpu").pk for index in range(writers)]
        return eid, rids

    def count_rows(self, eid):
        """(jobs, intermediate results, labeled results) stored for experiment eid."""
        from tracking.models import IntermediateResult, Job, MultipleResult

        return (
            Job.objects.filter(experiment_id=eid).count(),
            IntermediateResult.objects.filter(job__experiment_id=eid).count(),
            MultipleResult.objects.filter(experiment_id=eid).count(),
        )

    def save_results(self, count):
        def save():
            for step in range(count):
                self.connector.save_intermediate_result(self.jid, step / count)

        return _timed(save)


class AuptimizerVariant:
    """Auptimizer 2.0's own SQLiteConnector on a database file of its own schema."""

    def __init__(self, path, preload_results=0):
        from bench.reference import auptimizer_connector, create_auptimizer_database

        create_auptimizer_database(path, USER, cpu=1)
        if preload_results:
            self._preload(path, preload_results)
        self.connector = auptimizer_connector(path)
        self.eid = self.connector.start_experiment(USER, {"name": "bench", "target": "max"})
        self.rid = self.connector.get_available_resource(USER, "cpu")[0]

    @staticmethod
    def _preload(path, count):
        now = int(time.time())
        connection = sqlite3.connect(path)
        connection.execute("INSERT INTO experiment (uid, start_time, status, exp_config) VALUES (1, ?, 'FINISHED', '{}')", (now,))
        eid = connection.execute("SELECT max(eid) FROM experiment").fetchone()[0]
        jobs = -(-count // STEPS)
        connection.executemany(
            "INSERT INTO job (score, eid, start_time, end_time, status, job_config) VALUES (0.5, ?, ?, ?, 'FINISHED', '{}')",
            [(eid, now, now)] * jobs,
        )
        first_jid = connection.execute("SELECT min(jid) FROM job WHERE eid = ?", (eid,)).fetchone()[0]
        connection.executemany(
            "INSERT INTO intermediate_result (num, score, jid, receive_time) VALUES (?, 0.5, ?, ?)",
            ((index % STEPS, first_jid + index // STEPS, now) for index in range(count)),
        )
        connection.execute(
            "INSERT INTO multiple_result (label_order, value, receive_time, jid, irid, eid, is_last_result) "
            "SELECT 1, 0.5, receive_time, jid, irid, ?, 0 FROM intermediate_result",
            (eid,),
        )
        connection.execute(
            "INSERT INTO multiple_result (label_order, value, receive_time, jid, irid, eid, is_last_result) "
            "SELECT 2, 0.5, receive_time, jid, irid, ?, 0 FROM intermediate_result",
            (eid,),
        )
        connection.commit()
        connection.close()

    def lifecycle(self):
        return _timed(job_lifecycle, self.connector, self.eid, self.rid)


class PlainSqliteVariant:
    """The floor: the same rows through plain sqlite3, WAL, one commit per call, every
    number known in advance and no checks. Row 2 compares save_intermediate_result
    with its insert; row 1 compares a whole job lifecycle with its 202 commits, which
    at synchronous=FULL is what any connector that makes each call durable must pay."""

    def __init__(self, path, synchronous="NORMAL"):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(f"PRAGMA synchronous={synchronous}")
        self.connection.execute("CREATE TABLE job (id INTEGER PRIMARY KEY, score REAL, status TEXT, start_time TEXT, end_time TEXT)")
        self.connection.execute(
            "CREATE TABLE intermediate_result (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, "
            "number INTEGER NOT NULL, score REAL, score_text TEXT, receive_time TEXT NOT NULL, UNIQUE (job_id, number))"
        )
        self.connection.execute(
            "CREATE TABLE multiple_result (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, intermediate_result_id INTEGER, "
            "label_order INTEGER NOT NULL, value REAL, receive_time TEXT NOT NULL)"
        )
        self.next_number = 0

    def _commit(self, sql, params):
        self.connection.execute("BEGIN")
        cursor = self.connection.execute(sql, params)
        self.connection.execute("COMMIT")
        return cursor.lastrowid

    def save_results(self, count):
        def save():
            for step in range(count):
                self._commit(
                    "INSERT INTO intermediate_result (job_id, number, score, score_text, receive_time) VALUES (?, ?, ?, NULL, ?)",
                    (1, self.next_number, step / count, time.strftime("%Y-%m-%d %H:%M:%S")),
                )
                self.next_number += 1

        return _timed(save)

    def lifecycle(self):
        def rows():
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            jid = self._commit("INSERT INTO job (status, start_time) VALUES ('RUNNING', ?)", (now,))
            for step in range(STEPS):
                irid = self._commit(
                    "INSERT INTO intermediate_result (job_id, number, score, receive_time) VALUES (?, ?, ?, ?)",
                    (jid, step, step / STEPS, now),
                )
                self._commit(
                    "INSERT INTO multiple_result (job_id, intermediate_result_id, label_order, value, receive_time) "
                    "VALUES (?, ?, 1, ?, ?), (?, ?, 2, ?, ?)",
                    (jid, irid, step / STEPS, now, jid, irid, 1 - step / STEPS, now),
                )
            self._commit("UPDATE job SET score = 0.5, status = 'FINISHED', end_time = ? WHERE id = ?", (now, jid))

        return _timed(rows)
