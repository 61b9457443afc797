"""make bench's row "remote" (bench/remote.py): its machinery at a tiny size.

The aupsite variants run for real (gunicorn started and stopped by the row, executor
processes, the rows counted in the server's database); MLflow is a bench-only
dependency that the test requirements do not install, so its side is tested through
the counting it relies on (its SQLite store read afterwards) and the table's logic.
"""

import socket
import sqlite3
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

from bench import remote


def clean_result(values_per_s, step_median_s=1e-3):
    return {
        "values_per_s": values_per_s, "seconds": 1.0, "values": 15, "errors": 0, "error_kinds": [], "lost": 0,
        "step_median_s": step_median_s, "step_p95_s": step_median_s * 2, "step_mean_s": step_median_s,
        "finish_max_s": 0.01,
    }  # fmt: skip


def test_it_stores_every_value_of_every_aupsite_variant_and_leaves_nothing_behind(tmp_path):
    results, missing = remote.measure(tmp_path, executors=1, steps=5, kinds=remote.AUPSITE)

    measured = ["django", "rest", "rest-batched"] + (["rest-buffered"] if remote.buffered_available() else [])
    assert sorted(results) == sorted(measured)
    for kind in measured:
        result = results[kind]
        # 5 steps of a score and two labeled results, all found in the server's database.
        assert (result["values"], result["errors"], result["lost"]) == (15, 0, 0), (kind, result)
        assert result["values_per_s"] > 0 and result["step_median_s"] > 0, (kind, result)
    if not remote.buffered_available():
        assert missing == {"rest-buffered": "not available: this RestConnector has no buffered parameter"}
    # The server's database, its logs and the start files are gone with the row.
    assert list(tmp_path.iterdir()) == []


def test_it_stops_gunicorn_and_its_workers_on_the_way_out(tmp_path):
    env = remote.aupsite_env(tmp_path / "unused.sqlite3")
    with remote.gunicorn(env, tmp_path, workers=2) as url:
        address = urlsplit(url)
        socket.create_connection((address.hostname, address.port), timeout=10).close()
    try:
        socket.create_connection((address.hostname, address.port), timeout=2).close()
        answered = True
    except OSError:
        answered = False
    assert not answered


def test_it_counts_lost_jobs_and_values_as_tried_less_stored():
    run = {"start": 10.0, "end": 12.0, "step_times": [1e-6, 2e-6, 3e-6, 4e-6], "finishes": [0.5, 0.25],
           "errors": 3, "error_kinds": [("BackendError: no answer", 3)]}  # fmt: skip
    # 2 executors x 2 steps tried 2 jobs and 12 values; the database holds 1 job and 9 values.
    result = remote.outcome(run, executors=2, steps=2, stored_jobs=1, stored_values=9)

    assert result["lost"] == 4
    assert result["errors"] == 3
    assert result["values_per_s"] == 4.5
    assert result["step_median_s"] == pytest.approx(2.5e-6)
    assert result["step_p95_s"] == 4e-6
    assert result["finish_max_s"] == 0.5


def test_it_counts_the_metric_rows_of_one_mlflow_experiment(tmp_path):
    store = tmp_path / "mlflow.db"
    connection = sqlite3.connect(store)
    # The two tables of MLflow's store that the row reads, with the columns it reads.
    connection.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, experiment_id INTEGER)")
    connection.execute("CREATE TABLE metrics (key TEXT, value REAL, step INTEGER, run_uuid TEXT)")
    connection.executemany("INSERT INTO runs VALUES (?, ?)", [("a", 1), ("b", 1), ("c", 2)])
    connection.executemany(
        "INSERT INTO metrics VALUES (?, 0.5, ?, ?)",
        [(key, step, run) for run in ("a", "b", "c") for step in range(3) for key in ("score", "accuracy")],
    )
    connection.commit()
    connection.close()

    assert remote.mlflow_count(store, "1") == (2, 12)
    assert remote.mlflow_count(store, "2") == (1, 6)
    assert remote.mlflow_count(store, "3") == (0, 0)


def test_it_meets_the_targets_only_with_the_figures_that_meet_them():
    results = {
        "django": clean_result(1000),
        "rest": clean_result(100),
        "rest-batched": clean_result(500),
        "rest-buffered": clean_result(600, step_median_s=20e-6),
        "mlflow-log-metric": clean_result(110),
        "mlflow-log-batch": clean_result(400),
        "mlflow-async": clean_result(700),
    }
    rows = {row.measure: row for row in remote.rows_from(results, {}, executors=1, steps=5)}

    one_call = rows["1 x 5 steps, aupsite RestConnector, one call a result: values/s vs DjangoConnector"]
    assert (one_call.value, one_call.met) == (0.1, True)
    assert not rows["1 x 5 steps: one call a result / MLflow log_metric per value, values/s"].met
    assert rows["1 x 5 steps: batches of 50 / MLflow log_batch per step, values/s"].met
    assert not rows["1 x 5 steps: buffered / MLflow asynchronous logging, values/s"].met
    per_call = rows["1 x 5 steps: buffered / MLflow log_metric per value, values/s"]
    assert (round(per_call.value, 2), per_call.met) == (5.45, True)
    step = rows["1 x 5 steps: buffered executor's time per reported step, median"]
    assert (step.value, step.met) == (pytest.approx(20), True)

    results["rest-buffered"]["lost"] = 1
    rows = {row.measure: row for row in remote.rows_from(results, {}, executors=1, steps=5)}
    assert not rows["1 x 5 steps, aupsite RestConnector(buffered=True): values/s vs DjangoConnector"].met


def test_it_says_why_a_variant_that_cannot_run_here_is_missing():
    results = {"django": clean_result(1000), "rest": clean_result(100), "rest-batched": clean_result(500)}
    missing = {kind: "mlflow is not installed" for kind in remote.MLFLOW}
    missing["rest-buffered"] = "not available: this RestConnector has no buffered parameter"
    rows = remote.rows_from(results, missing, executors=1, steps=5)

    unmet = {row.measure: row.detail for row in rows if not row.met}
    assert unmet["1 x 5 steps, MLflow log_metric per value"] == "mlflow is not installed"
    assert unmet["1 x 5 steps: buffered / MLflow asynchronous logging, values/s"].startswith("not available")
    assert len(unmet) == 3 + 1 + 4 + 1  # MLflow's three, buffered, the four comparisons, the step time


def test_it_says_why_when_the_mlflow_server_cannot_start_and_cleans_up(tmp_path, monkeypatch):
    @contextmanager
    def failing_server(folder):
        raise RuntimeError("mlflow server exited with 1:\nModuleNotFoundError: No module named 'sqlalchemy'")
        yield  # pragma: no cover

    monkeypatch.setattr(remote, "mlflow_available", lambda: None)
    monkeypatch.setattr(remote, "mlflow_server", failing_server)
    results, missing = remote.measure(tmp_path, executors=1, steps=5, kinds=remote.MLFLOW)

    assert results == {}
    assert missing == {
        kind: "MLflow could not run: mlflow server exited with 1: ModuleNotFoundError: No module named 'sqlalchemy'"
        for kind in remote.MLFLOW
    }
    assert list(tmp_path.iterdir()) == []
