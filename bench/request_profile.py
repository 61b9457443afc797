"""Where one API write's time goes, and the one-call-a-result rate (issue 14, part 1).

    .venv/bin/python -m bench.request_profile                  # this checkout: profile + rate
    .venv/bin/python -m bench.request_profile --compare d752f56  # side by side with a commit

The profile: one process serves POST /api/jobs/<jid>/intermediate-results/ (with a
token and an Idempotency-Key, as RestConnector sends it) through Django's WSGI handler,
as gunicorn calls it, under cProfile; it prints the time per request by stage and the
queries one request runs.

The rate: 4 executor processes, each a job of 300 intermediate results with two labeled
results each (save_intermediate_result then save_multiple_results per step, one call a
result: two requests a step), against gunicorn with 3 workers on a fresh SQLite file.
Results/s, errors, and what reached the database (lost or doubled rows).

With --compare REF, the commit REF (its client and its server, as `git archive` gives
them) runs beside this checkout, rounds interleaved (A B A B ...), so that whatever else
the machine does falls on both alike; the ratio of medians is the figure to read.

Every part runs in its own processes with its own code folder on sys.path, so that the
two checkouts never mix; this file imports neither Django nor tracking at the top.
"""

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXECUTORS = 4
STEPS = 300
LABELS = ["accuracy", "loss"]
WORKERS = 3
# gunicorn as `make run-production` ran it before issue 14 (sync workers, which close each
# connection after one answer) and runs it since (gthread workers, keep-alive 60 s).
SYNC = ["--workers", str(WORKERS)]
GTHREAD = ["--workers", str(WORKERS), "--worker-class", "gthread", "--threads", "4", "--keep-alive", "60"]


# -- running code of one checkout in a child process ---------------------------------------------


def _env(code_dir, database):
    env = {k: v for k, v in os.environ.items() if k not in ("AUPSITE_ENV", "DEBUG")}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="aupsite.settings",
        PYTHONPATH=str(code_dir),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _child(code_dir, database, mode, *args, **kwargs):
    """Run this file in `mode` in a child process whose imports come from `code_dir`."""
    command = [sys.executable, str(Path(__file__).resolve()), f"--child={mode}", f"--code={code_dir}", *args]
    return subprocess.run(
        command, cwd=code_dir, env=_env(code_dir, database), check=True, capture_output=True, text=True, **kwargs
    )


def _django(code_dir):
    sys.path.insert(0, str(code_dir))
    import django

    django.setup()


def prepare_database(code_dir, database):
    """A fresh database with a user, a token, an experiment and EXECUTORS running jobs."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=code_dir,
        env=_env(code_dir, database),
        check=True,
    )
    return json.loads(_child(code_dir, database, "setup").stdout)


def _setup_child(code_dir):
    _django(code_dir)
    from django.contrib.auth import get_user_model

    from tracking.connector import DjangoConnector
    from tracking.models import ApiToken, Resource

    user = get_user_model().objects.create(username="bench")
    _, secret = ApiToken.issue(user, "bench")
    connector = DjangoConnector()
    eid = connector.start_experiment("bench", {"name": "request profile"})
    jids = []
    for _ in range(EXECUTORS + 1):
        rid = Resource.objects.create(type="cpu", name="localhost").pk
        jids.append(connector.start_job(eid, rid, {"lr": 0.1}))
    print(json.dumps({"token": secret, "eid": eid, "jids": jids}))


# -- the server ----------------------------------------------------------------------------------


class Gunicorn:
    """gunicorn serving `code_dir`'s aupsite on a loopback socket bound here."""

    def __init__(self, code_dir, database, options, log):
        listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        command = [
            sys.executable, "-m", "gunicorn", "aupsite.wsgi", "--bind", f"fd://{listener.fileno()}",
            "--no-control-socket", *options,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=code_dir, env=_env(code_dir, database), stdout=log, stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()], start_new_session=True,
        )  # fmt: skip
        listener.close()
        for _ in range(240):
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped: see {log.name}")
            try:
                urllib.request.urlopen(f"{self.url}/api/resources/types/", timeout=30)
            except urllib.error.HTTPError as error:
                if error.code == 401:
                    return
                raise
            except OSError:
                time.sleep(0.25)
        raise RuntimeError("gunicorn did not answer")

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


# -- the rate --------------------------------------------------------------------------------------


def _executor_child(code_dir, url, token, eid, jid, go_file):
    """One executor: a job's STEPS results, one call each, as the interface makes them."""
    sys.path.insert(0, str(code_dir))
    from tracking.client import RestConnector

    connector = RestConnector(url, token, backoff=0.05)
    connector.get_resource_type()  # connected and warm before the start, as a running executor is
    while not os.path.exists(go_file):
        time.sleep(0.001)
    errors = []
    start, cpu = time.time(), time.process_time()
    for step in range(STEPS):
        irid = None
        try:
            irid = connector.save_intermediate_result(jid, step / STEPS)
        except Exception as exc:  # noqa: BLE001 - counted: an executor would lose this result
            errors.append(f"{type(exc).__name__}: {exc}"[:120])
        try:
            connector.save_multiple_results(jid, irid, eid, LABELS, [step / STEPS, 1 - step / STEPS])
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}"[:120])
    end = time.time()
    print(json.dumps({"start": start, "end": end, "cpu": time.process_time() - cpu, "errors": errors}))


def rate(code_dir, server_options, workdir, label):
    """One run: a fresh database, gunicorn, EXECUTORS executors. Returns a dict of figures."""
    database = Path(workdir) / f"{label}-{time.monotonic_ns()}.sqlite3"
    world = prepare_database(code_dir, database)
    with open(Path(workdir) / f"{label}-gunicorn.log", "a") as log:
        server = Gunicorn(code_dir, database, server_options, log)
        try:
            go_file = Path(workdir) / f"go-{time.monotonic_ns()}"
            executors = [
                subprocess.Popen(
                    [
                        sys.executable, str(Path(__file__).resolve()), "--child=executor", f"--code={code_dir}",
                        server.url, world["token"], str(world["eid"]), str(jid), str(go_file),
                    ],  # fmt: skip
                    cwd=code_dir, env=_env(code_dir, database), stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                for jid in world["jids"][:EXECUTORS]
            ]
            time.sleep(1.5)  # every executor imported and connected
            go_file.touch()
            reports = []
            for executor in executors:
                out, _ = executor.communicate(timeout=1800)
                reports.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            server.stop()
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    with sqlite3.connect(database) as db:
        jids = world["jids"][:EXECUTORS]
        marks = ",".join("?" * len(jids))
        results = db.execute(f"SELECT count(*) FROM tracking_intermediateresult WHERE job_id IN ({marks})", jids)
        stored = results.fetchone()[0]
        numbers = db.execute(
            f"SELECT count(*), count(DISTINCT job_id || '-' || number) FROM tracking_intermediateresult "
            f"WHERE job_id IN ({marks})",
            jids,
        ).fetchone()
        labeled = db.execute(f"SELECT count(*) FROM tracking_multipleresult WHERE job_id IN ({marks})", jids)
        labeled = labeled.fetchone()[0]
    database.unlink()
    errors = [error for r in reports for error in r["errors"]]
    expected = EXECUTORS * STEPS
    return {
        "results_per_s": stored / seconds,
        "seconds": seconds,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "lost": expected - stored + (2 * expected - labeled),
        "doubled": numbers[0] - numbers[1],
        "client_cpu_ms_per_step": 1000 * statistics.mean(r["cpu"] for r in reports) / STEPS,
    }


# -- the profile -------------------------------------------------------------------------------------

# Where a step's time goes: a tree of stages, each the cumulative time of the functions
# named (file, function), its own time what its children leave. In the order a request
# meets them.
STAGES = (
    "request",
    [("django/core/handlers/wsgi.py", "__call__")],
    [
        (
            "DRF",
            [("rest_framework/views.py", "dispatch")],
            [
                ("authentication", [("tracking/api/authentication.py", "authenticate")], []),
                (
                    "Idempotency-Key",
                    [("tracking/api/idempotency.py", "wrapper")],
                    [
                        (
                            "view",
                            [("tracking/api/views.py", "dispatch")],
                            [
                                (
                                    "access checks",
                                    [
                                        ("tracking/api/views.py", "require_job"),
                                        ("tracking/api/views.py", "require_linked_experiment"),
                                    ],
                                    [],
                                ),
                                (
                                    "the write (DjangoConnector)",
                                    [
                                        ("tracking/connector.py", "save_intermediate_result"),
                                        ("tracking/connector.py", "save_multiple_results"),
                                    ],
                                    [],
                                ),
                            ],
                        ),
                        ("commit", [("django/db/backends/base/base.py", "commit")], []),
                    ],
                ),
            ],
        )
    ],
)


def _stage_rows(stats, stage, depth=0):
    """[(depth, name, cumulative s, own s)] of `stage` and its children, depth first."""
    name, functions, children = stage

    def cumulative(functions):
        return sum(
            value[3]
            for (file, _, func), value in stats.stats.items()
            if any(func == function and file.replace(os.sep, "/").endswith(part) for part, function in functions)
        )

    total = cumulative(functions)
    rows = [(depth, name, total, total - sum(cumulative(child[1]) for child in children))]
    for child in children:
        rows += _stage_rows(stats, child, depth + 1)
    return rows


def _profile_child(code_dir, token, eid, jid, steps):
    _django(code_dir)
    import cProfile
    import io
    import pstats
    import uuid

    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()

    def post(path, payload, expected):
        body = json.dumps(payload).encode()
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "application/json",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex, "HTTP_AUP_CONNECTOR_ID": "0" * 32,
            "HTTP_USER_AGENT": "aupsite-RestConnector/1",
        }  # fmt: skip
        statuses = []
        response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
        content = b"".join(response)
        response.close()
        assert statuses[0].startswith(expected), (statuses, content)
        return json.loads(content) if content else None

    def step(number):
        """One step as RestConnector sends it: the score, then its two labeled values."""
        irid = post(f"/api/jobs/{jid}/intermediate-results/", {"score": number / 1000}, "201")["irid"]
        labeled = {"eid": eid, "irid": irid, "labels": LABELS, "scores": [number / 1000, 1 - number / 1000]}
        post(f"/api/jobs/{jid}/multiple-results/", labeled, "204")

    for number in range(50):  # warm: imports, URL resolver, first connection
        step(number)
    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):  # Django's cursor: the connector's raw statements are not seen
        step(50)
    start, cpu = time.perf_counter(), time.process_time()
    for number in range(steps):  # unprofiled: what a step costs
        step(100 + number)
    wall, cpu = (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps
    # CPU time, not wall time: the machine is shared, and a stage's wait for the CPU is
    # no part of its cost (with SQLITE_SYNCHRONOUS=NORMAL a commit waits for no disk).
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for number in range(steps):
        step(100 + steps + number)
    profile.disable()
    if os.environ.get("AUP_PROFILE_DUMP"):
        profile.dump_stats(os.environ["AUP_PROFILE_DUMP"])
    stats = pstats.Stats(profile)
    own = sorted(((key, value[2]) for key, value in stats.stats.items()), key=lambda item: -item[1])[:10]
    print(
        json.dumps(
            {
                "wall_us": wall * 1e6,
                "cpu_us": cpu * 1e6,
                "stages": [
                    (depth, name, total / steps * 1e6, mine / steps * 1e6)
                    for depth, name, total, mine in _stage_rows(stats, STAGES)
                ],
                "queries": [sql[:110] for sql in queries],
                "top_own_us": [
                    (f"{Path(file).name}:{line} {func}", seconds / steps * 1e6) for (file, line, func), seconds in own
                ],
            }
        )
    )


def profile(code_dir, workdir, label, steps=500):
    database = Path(workdir) / f"{label}-profile.sqlite3"
    world = prepare_database(code_dir, database)
    out = _child(code_dir, database, "profile", world["token"], str(world["eid"]), str(world["jids"][-1]), str(steps))
    database.unlink()
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_profile(label, report, out=sys.stdout):
    out.write(
        f"\n{label}: one step (POST jobs/<jid>/intermediate-results/, then POST jobs/<jid>/multiple-results/ with\n"
        "two labels; a token and an Idempotency-Key each, as RestConnector sends them), through Django's WSGI handler\n"
    )
    out.write(f"  {report['cpu_us']:,.0f} µs of CPU a step, unprofiled ({report['wall_us']:,.0f} µs wall)\n")
    out.write("  under cProfile (CPU time; its overhead makes every figure larger, alike):\n")
    out.write(f"  {'stage':<38} {'with inner':>10} {'own':>8} {'own %':>6}\n")
    whole = report["stages"][0][2]
    for depth, name, total, mine in report["stages"]:
        out.write(f"  {'  ' * depth + name:<38} {total:>10,.0f} {mine:>8,.0f} {100 * mine / whole:>5.0f}%\n")
    out.write(f"  queries of a step through Django's cursor ({len(report['queries'])}):\n")
    for sql in report["queries"]:
        out.write(f"    {sql}\n")
    out.write("  most own time (µs a step):\n")
    for name, us in report["top_own_us"]:
        out.write(f"    {us:>7,.0f}  {name}\n")


# -- main -----------------------------------------------------------------------------------------


def extract(ref, workdir):
    """The commit `ref` of this repository, as files in a folder of `workdir`."""
    target = Path(workdir) / f"checkout-{ref}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=PROJECT_DIR, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", metavar="REF", help="a commit to run side by side with this checkout")
    parser.add_argument("--rounds", type=int, default=3, help="rate runs per side (default 3)")
    parser.add_argument("--steps", type=int, default=500, help="steps profiled (default 500)")
    parser.add_argument("--also-sync", action="store_true", help="this checkout under sync workers too")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-rate", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--code")
    parser.add_argument("rest", nargs="*")
    args = parser.parse_args(argv)
    if args.child == "setup":
        return _setup_child(args.code)
    if args.child == "profile":
        token, eid, jid, steps = args.rest
        return _profile_child(args.code, token, int(eid), int(jid), int(steps))
    if args.child == "executor":
        url, token, eid, jid, go_file = args.rest
        return _executor_child(args.code, url, token, int(eid), int(jid), go_file)

    with tempfile.TemporaryDirectory(prefix="aup-request-profile-") as workdir:
        sides = {"this checkout (gthread)": (PROJECT_DIR, GTHREAD)}
        if args.also_sync:
            sides = {"this checkout (sync workers)": (PROJECT_DIR, SYNC), **sides}
        if args.compare:
            sides = {f"{args.compare} (sync workers)": (extract(args.compare, workdir), SYNC), **sides}
        if not args.no_profile:
            profiled = set()
            for label, (code_dir, _) in sides.items():
                if code_dir not in profiled:  # the server's options do not change a profile in process
                    profiled.add(code_dir)
                    print_profile(label.split(" (")[0], profile(code_dir, workdir, label.split()[0], args.steps))
        if args.no_rate:
            return
        runs = {label: [] for label in sides}
        for _ in range(args.rounds):
            for label, (code_dir, options) in sides.items():
                runs[label].append(rate(code_dir, options, workdir, label.split()[0]))
                figures = runs[label][-1]
                print(
                    f"  {label}: {figures['results_per_s']:,.0f} results/s, {figures['errors']} errors, "
                    f"{figures['lost']} lost, {figures['doubled']} doubled, "
                    f"client {figures['client_cpu_ms_per_step']:.2f} ms CPU a step {figures['error_kinds']}",
                    flush=True,
                )
        print(
            f"\none call a result, {EXECUTORS} executors x {STEPS} steps x (score + 2 labels), "
            f"gunicorn {WORKERS} workers:"
        )
        medians = {label: statistics.median(r["results_per_s"] for r in results) for label, results in runs.items()}
        for label, results in runs.items():
            values = ", ".join(f"{r['results_per_s']:,.0f}" for r in results)
            print(f"  {label:<30} median {medians[label]:>7,.0f} results/s  ({values})")
        first = next(iter(medians))
        for label, median in list(medians.items())[1:]:
            print(f"  {label} / {first}: {median / medians[first]:.2f}x")


if __name__ == "__main__":
    main()
