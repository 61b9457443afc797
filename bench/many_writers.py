"""Many executors writing at once: N processes, each recording whole job lifecycles.

Every call that fails is counted as an error and its rows as lost (an executor that
gets an exception loses that result); rows are then counted in the database, so a
write that claimed success but left nothing would show as lost too.
"""

import json
import multiprocessing
import os
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

from bench.variants import LABELS, STEPS, USER

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _writer(kind, env, target, eid, rid, lifecycles, go_file, queue):
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT_DIR))
    if kind == "auptimizer":
        from bench.reference import auptimizer_connector

        connector = auptimizer_connector(target)
    else:
        from tracking.connector import DjangoConnector

        connector = DjangoConnector()
        connector.get_resource_type()  # connected before the start, as a running executor is
    while not os.path.exists(go_file):
        time.sleep(0.001)
    errors = Counter()
    rows_tried = 0
    start = time.time()
    for _ in range(lifecycles):
        rows_tried += 1
        try:
            jid = connector.job_started(eid, rid, {"pid": os.getpid()})
        except Exception as exc:  # noqa: BLE001 - counted, as an executor would lose it
            errors[f"{type(exc).__name__}: {exc}"[:80]] += 1
            rows_tried += STEPS * (1 + len(LABELS))
            continue
        for step in range(STEPS):
            rows_tried += 1 + len(LABELS)
            irid = None
            try:
                irid = connector.save_intermediate_result(jid, step / STEPS)
            except Exception as exc:  # noqa: BLE001
                errors[f"{type(exc).__name__}: {exc}"[:80]] += 1
            try:
                connector.save_multiple_results(jid, irid, eid, LABELS, [step / STEPS, 1 - step / STEPS])
            except Exception as exc:  # noqa: BLE001
                errors[f"{type(exc).__name__}: {exc}"[:80]] += 1
        try:
            connector.job_finished(rid, jid, 0.5, "FINISHED")
        except Exception as exc:  # noqa: BLE001
            errors[f"{type(exc).__name__}: {exc}"[:80]] += 1
    queue.put({"start": start, "end": time.time(), "rows_tried": rows_tried, "errors": dict(errors)})


def run(kind, writers, lifecycles, workdir, django_env=None):
    """Run `writers` processes of `kind` ('django' or 'auptimizer') on a fresh database.

    Returns {"results_per_s" (intermediate results stored per second), "errors",
    "lost_rows", "error_kinds", "seconds"}.
    """
    from bench.workers import Worker

    workdir = Path(workdir)
    go_file = workdir / f"go-{kind}-{writers}-{time.monotonic_ns()}"
    if kind == "auptimizer":
        from bench.reference import auptimizer_connector, create_auptimizer_database

        target = str(workdir / f"auptimizer-{writers}-writers.db")
        create_auptimizer_database(target, USER, cpu=writers)
        setup = auptimizer_connector(target)
        eid = setup.start_experiment(USER, {"name": "writers", "target": "max"})
        rids = setup.get_available_resource(USER, "cpu")
        setup.close()
        env = {}
    else:
        env = dict(django_env)
        worker = Worker("bench.variants.DjangoVariant", env)
        eid, rids = worker.call("writers_setup", writers)
        target = None
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_writer, args=(kind, env, target, eid, rids[index], lifecycles, str(go_file), queue))
        for index in range(writers)
    ]
    for process in processes:
        process.start()
    time.sleep(1.0 + 0.2 * writers)  # let every writer import and connect
    go_file.touch()
    reports = [queue.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    go_file.unlink()

    if kind == "auptimizer":
        connection = sqlite3.connect(target)
        stored = [
            connection.execute(sql, (eid,)).fetchone()[0]
            for sql in (
                "SELECT count(*) FROM job WHERE eid = ?",
                "SELECT count(*) FROM intermediate_result WHERE jid IN (SELECT jid FROM job WHERE eid = ?)",
                "SELECT count(*) FROM multiple_result WHERE eid = ?",
            )
        ]
        connection.close()
    else:
        stored = worker.call("count_rows", eid)
        worker.close()
    seconds = max(report["end"] for report in reports) - min(report["start"] for report in reports)
    rows_tried = sum(report["rows_tried"] for report in reports)
    error_kinds = Counter()
    for report in reports:
        error_kinds.update(report["errors"])
    jobs, results, labeled = stored
    return {
        "results_per_s": results / seconds,
        "seconds": seconds,
        "errors": sum(error_kinds.values()),
        "lost_rows": rows_tried - (jobs + results + labeled),
        "error_kinds": json.loads(json.dumps(error_kinds.most_common(3))),
    }
