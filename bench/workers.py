"""Benchmark variants, each in a long-lived process of its own.

A variant (aupsite on SQLite with synchronous=NORMAL, Auptimizer's connector, plain
sqlite3, ...) needs its own settings and its own database file, so it runs in a spawned
process configured through its environment before anything is imported. The
orchestrator sends it one operation at a time, so variants can be interleaved
(A B A B ...) while each keeps its warm connection, as an executor does.
"""

import multiprocessing
import os
import sys
import traceback
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Worker:
    """A variant in its own process: Worker("bench.variants.DjangoVariant", env, **kwargs)."""

    def __init__(self, variant, env=None, **kwargs):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, variant, env or {}, kwargs), daemon=True)
        self.process.start()
        self.call("ready")

    def call(self, operation, *args, timeout=None):
        """The operation's result; TimeoutError (and the worker killed) past `timeout` seconds."""
        self._conn.send((operation, args))
        if timeout is not None and not self._conn.poll(timeout):
            self.process.kill()
            self.process.join()
            raise TimeoutError(f"{operation} took more than {timeout:.0f} s")
        ok, result = self._conn.recv()
        if not ok:
            raise RuntimeError(f"benchmark worker failed in {operation}:\n{result}")
        return result

    def close(self):
        if self.process.is_alive():
            self._conn.send(("stop", ()))
            self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def _serve(conn, variant, env, kwargs):
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        module_name, class_name = variant.rsplit(".", 1)
        module = __import__(module_name, fromlist=[class_name])
        instance = getattr(module, class_name)(**kwargs)
    except BaseException:  # noqa: BLE001 - reported to the orchestrator
        error = traceback.format_exc()
        while True:
            operation, _ = conn.recv()
            conn.send((False, error))
            if operation == "stop":
                return
    while True:
        operation, args = conn.recv()
        if operation == "stop":
            return
        try:
            result = True if operation == "ready" else getattr(instance, operation)(*args)
            conn.send((True, result))
        except BaseException:  # noqa: BLE001 - reported to the orchestrator
            conn.send((False, traceback.format_exc()))
