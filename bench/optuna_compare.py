"""The same big experiment in optuna-dashboard, the peer researchers would otherwise use.

10,000 trials x 1,000 intermediate values go in bulk into an Optuna study's SQLite
storage (Optuna has no labeled results per step: those are left out, which only makes
its work lighter). optuna-dashboard's WSGI app then answers its study endpoint
(GET /api/studies/<id>, what its study page loads) in a process of its own.
"""

import io
import resource
import sqlite3
import sys
import time

from bench.big_experiments import curve


def load_study(path, trials, steps):
    """An Optuna study of `trials` finished trials with `steps` intermediate values each."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{path}"
    study = optuna.create_study(storage=storage, study_name="bench", direction="maximize")
    study_id = study._study_id
    del study
    stamp = "2026-01-01 00:00:00.000000"
    distribution = '{"name": "FloatDistribution", "attributes": {"step": null, "low": 0.0001, "high": 0.1, "log": true}}'
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO trials (trial_id, number, study_id, state, datetime_start, datetime_complete) "
        "VALUES (?, ?, ?, 'COMPLETE', ?, ?)",
        ((index + 1, index, study_id, stamp, stamp) for index in range(trials)),
    )
    connection.executemany(
        "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, 0, ?, 'FINITE')",
        ((index + 1, curve(index, steps - 1, steps)) for index in range(trials)),
    )
    connection.executemany(
        "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, 'lr', ?, ?)",
        ((index + 1, 0.0001 + 0.0999 * ((index * 37) % 1000) / 1000, distribution) for index in range(trials)),
    )
    connection.executemany(
        "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) "
        "VALUES (?, ?, ?, 'FINITE')",
        ((index + 1, step, curve(index, step, steps)) for index in range(trials) for step in range(steps)),
    )
    connection.execute("COMMIT")
    connection.close()
    return study_id


class OptunaDashboard:
    """optuna-dashboard's WSGI app over the study's storage, called in-process."""

    def __init__(self, path, memory_limit_gb=None):
        import optuna
        import optuna_dashboard

        if memory_limit_gb:
            # Past this it fails with MemoryError rather than take the machine down.
            limit = int(memory_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.app = optuna_dashboard.wsgi(f"sqlite:///{path}")

    def study(self, study_id):
        """(seconds, bytes, status) of GET /api/studies/<id>."""
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": f"/api/studies/{study_id}",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status = []
        start = time.perf_counter()
        body = b"".join(self.app(environ, lambda code, headers, *args: status.append(code)))
        return time.perf_counter() - start, len(body), status[0]

    def peak_memory_mb(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
