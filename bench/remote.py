"""Remote executors (issue 14): aupsite's RestConnector beside MLflow's tracking server.

The same workload for every variant: EXECUTORS processes, each one job (an MLflow run)
of STEPS steps, each step an intermediate result (the score) and two labeled results
(accuracy, loss): three stored values a step. Every variant's processes start together
(a file they wait for) and are timed from that moment to the end of their job, whatever
the job's end waits for (the buffered client's and MLflow's asynchronous queue are
flushed then).

- aupsite: gunicorn with GUNICORN_WORKERS gthread workers of GUNICORN_THREADS threads,
  connections kept alive (as `make run-production` runs it, in the local settings: plain
  HTTP on loopback) on a fresh SQLite database, a user and
  an API token made through the ORM; DjangoConnector straight on that database is the
  reference. Through RestConnector: the interface's calls (save_intermediate_result and
  save_multiple_results, two requests a step), save_intermediate_results in batches of
  BATCH steps, and RestConnector(..., buffered=True) with the interface's calls.
- MLflow: `mlflow server` with the same number of workers on a SQLite backend store of
  its own, its artifacts in a temporary folder; each executor a run of its own:
  log_metric per value (three requests a step), MlflowClient.log_batch per step (one
  request, three metrics), and log_metrics(..., synchronous=False) per step, MLflow's
  asynchronous logging, flushed (mlflow.flush_async_logging) before the run ends.

Counted: results/s is the values found in the server's database afterwards (scores plus
labeled results; MLflow: metric rows) over the wall time from the start to the last
executor's end. Errors are calls that raised; lost is what the executors tried to store
(jobs or runs, and values) less what the database holds. The executor's time per step
is what the training loop spends in the logging calls of one step (perf_counter around
them), median and 95th percentile over every step of every executor; the job's end
(the final flush) is reported apart.

    .venv/bin/python -m bench.run --rows remote
"""

import inspect
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from bench.harness import Row, fmt_time

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXECUTORS = 4
STEPS = 300
BATCH = 50
LABELS = ["accuracy", "loss"]
VALUES_PER_STEP = 1 + len(LABELS)
GUNICORN_WORKERS = 3
GUNICORN_THREADS = 4
# Steps of the unmeasured job each executor runs first against a newly started server.
WARMUP_STEPS = 10
USER = "bench"
# A variant's executors must be done within this (a server that stops answering would
# otherwise hold the row, and make bench, for the client's whole retry schedule).
VARIANT_TIMEOUT = 240
SERVER_START_TIMEOUT = 180

# The targets (issue 14).
ONE_CALL_VS_DJANGO = 0.06
BUFFERED_VS_DJANGO = 0.5
BUFFERED_VS_MLFLOW_PER_CALL = 5.0
BUFFERED_STEP_LIMIT = 50e-6

AUPSITE = ("django", "rest", "rest-batched", "rest-buffered")
MLFLOW = ("mlflow-log-metric", "mlflow-log-batch", "mlflow-async")
NAMES = {
    "django": "aupsite DjangoConnector (reference)",
    "rest": "aupsite RestConnector, one call a result",
    "rest-batched": f"aupsite RestConnector.save_intermediate_results, batches of {BATCH} steps",
    "rest-buffered": "aupsite RestConnector(buffered=True)",
    "mlflow-log-metric": "MLflow log_metric per value",
    "mlflow-log-batch": "MLflow log_batch per step",
    "mlflow-async": "MLflow asynchronous logging (synchronous=False)",
}


def buffered_available():
    """Whether this checkout's RestConnector has the buffered client (issue 14, part 2)."""
    from tracking.client import RestConnector

    return "buffered" in inspect.signature(RestConnector).parameters


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process):
    """Stop a server started in a session of its own, and every process of it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass


def _wait_until_up(process, url, expected, log_path, what):
    """Poll url until it answers with a status in `expected`; RuntimeError (with the
    server's log) if the server exits or does not answer in SERVER_START_TIMEOUT."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = None
        if status in expected:
            return
        if time.monotonic() > deadline:
            log = Path(log_path).read_text()[-3000:]
            raise RuntimeError(f"{what} did not answer within {SERVER_START_TIMEOUT} s:\n{log}")
        time.sleep(0.25)


# -- aupsite --------------------------------------------------------------------------------


def aupsite_env(database):
    return {
        "DATABASE_URL": f"sqlite:///{database}", "SQLITE_SYNCHRONOUS": "NORMAL",
        "DJANGO_SETTINGS_MODULE": "aupsite.settings",
    }  # fmt: skip


class AupsiteSetup:
    """The database's side, in a process of its own (bench.workers.Worker): migrate,
    the user and its API token, each variant's experiment, and the rows counted after."""

    def __init__(self):
        from bench.variants import setup_django

        setup_django()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.user = get_user_model().objects.create_user(USER)

    def token(self):
        from tracking.models import ApiToken

        return ApiToken.issue(self.user, "remote executors")[1]

    def experiment(self, name, executors):
        """An experiment owned by the bench user, and one cpu resource per executor."""
        from tracking.connector import DjangoConnector
        from tracking.models import Resource

        eid = DjangoConnector().start_experiment(USER, {"name": name, "target": "max"})
        return eid, [Resource.objects.create(name=f"{name} {index}", type="cpu").pk for index in range(executors)]

    def count(self, eid):
        """(jobs, stored values: scores + labeled results) of experiment eid."""
        from tracking.models import IntermediateResult, Job, MultipleResult

        jobs = Job.objects.filter(experiment_id=eid).count()
        scores = IntermediateResult.objects.filter(job__experiment_id=eid).count()
        labeled = MultipleResult.objects.filter(experiment_id=eid).count()
        return jobs, scores + labeled


@contextmanager
def gunicorn(env, folder, workers=GUNICORN_WORKERS):
    """aupsite under gunicorn on a loopback socket bound here (no race for a free port);
    yields its address; stopped, with its workers, on the way out."""
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    log_path = Path(folder) / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "aupsite.wsgi",
        "--bind", f"fd://{listener.fileno()}", "--workers", str(workers),
        # As make run-production: threaded workers that keep a client's connection open.
        "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS), "--keep-alive", "60",
        "--access-logfile", str(Path(folder) / "access.log"), "--error-logfile", str(log_path),
        "--no-control-socket",  # its default path is one per machine, shared by every gunicorn
    ]  # fmt: skip
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command, cwd=PROJECT_DIR, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()], start_new_session=True,
        )  # fmt: skip
    listener.close()  # gunicorn has its own copy
    try:
        # 401: the API answers, and wants a token.
        _wait_until_up(server, f"{url}/api/resources/types/", {401}, log_path, "gunicorn")
        yield url
    finally:
        _stop(server)


# -- MLflow ---------------------------------------------------------------------------------


def mlflow_available():
    """None, or why MLflow's server cannot run here."""
    if shutil.which("mlflow", path=str(Path(sys.executable).parent)) is None:
        return "mlflow is not installed (pip install -r bench/requirements.txt)"
    return None


@contextmanager
def mlflow_server(folder, workers=GUNICORN_WORKERS):
    """MLflow's tracking server on loopback, its SQLite backend store and artifacts in
    `folder`; yields (its address, the store's path)."""
    folder = Path(folder)
    store = folder / "mlflow.db"
    artifacts = folder / "mlartifacts"
    artifacts.mkdir(exist_ok=True)
    port = _free_port()
    log_path = folder / "mlflow-server.log"
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{store}", "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, f"{url}/health", {200}, log_path, "mlflow server")
        yield url, store
    finally:
        _stop(server)


def mlflow_experiment(url, name):
    """A new MLflow experiment, through the tracking server's REST API; its id."""
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/experiments/create", data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())["experiment_id"]


def mlflow_count(store, experiment_id):
    """(runs, metric values) of an MLflow experiment, read from its SQLite store."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        runs = connection.execute("SELECT count(*) FROM runs WHERE experiment_id = ?", (experiment_id,)).fetchone()[0]
        values = connection.execute(
            "SELECT count(*) FROM metrics JOIN runs ON runs.run_uuid = metrics.run_uuid WHERE runs.experiment_id = ?",
            (experiment_id,),
        ).fetchone()[0]
    finally:
        connection.close()
    return runs, values


# -- the executors --------------------------------------------------------------------------


def step_values(step, steps):
    """The step's score and its two labeled results."""
    return step / steps, (step / steps, 1 - step / steps)


class Executor:
    """One executor's job: set up (connected, job started) before the start, then its
    steps; each call that raises is an error, counted by its kind."""

    def __init__(self, steps):
        self.steps = steps
        self.errors = Counter()

    def attempt(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - counted, as an executor would lose it
            self.errors[f"{type(exc).__name__}: {exc}"[:100]] += 1
            return None


class AupsiteExecutor(Executor):
    def __init__(self, kind, steps, eid, rid, url=None, token=None):
        super().__init__(steps)
        if kind == "django":
            from tracking.connector import DjangoConnector

            self.connector = DjangoConnector()
        else:
            from tracking.client import RestConnector

            options = {"buffered": True} if kind == "rest-buffered" else {}
            self.connector = RestConnector(url, token, **options)
        self.kind, self.eid, self.rid = kind, eid, rid
        self.pending = []
        self.jid = self.connector.job_started(eid, rid, {"pid": os.getpid()})

    def step(self, step):
        score, labeled = step_values(step, self.steps)
        if self.kind == "rest-batched":
            self.pending.append({"jid": self.jid, "score": score, "labels": LABELS, "scores": list(labeled)})
            if len(self.pending) == BATCH:
                self.send_pending()
            return
        irid = self.attempt(self.connector.save_intermediate_result, self.jid, score)
        self.attempt(self.connector.save_multiple_results, self.jid, irid, self.eid, LABELS, list(labeled))

    def send_pending(self):
        batch, self.pending = self.pending, []
        self.attempt(self.connector.save_intermediate_results, batch)

    def finish(self):
        if self.pending:
            self.send_pending()
        # job_finished flushes the buffered client first (issue 14, part 2).
        self.attempt(self.connector.job_finished, self.rid, self.jid, 0.5, "FINISHED")
        self.attempt(self.connector.close)


class MlflowExecutor(Executor):
    def __init__(self, kind, steps, url, experiment_id):
        super().__init__(steps)
        import mlflow
        from mlflow.entities import Metric

        mlflow.set_tracking_uri(url)
        self.mlflow, self.Metric, self.kind = mlflow, Metric, kind
        self.client = mlflow.MlflowClient(url)
        self.run_id = mlflow.start_run(experiment_id=experiment_id).info.run_id

    def step(self, step):
        score, (accuracy, loss) = step_values(step, self.steps)
        values = {"score": score, LABELS[0]: accuracy, LABELS[1]: loss}
        if self.kind == "mlflow-log-metric":
            for key, value in values.items():
                self.attempt(self.mlflow.log_metric, key, value, step=step, synchronous=True)
        elif self.kind == "mlflow-log-batch":
            now = int(time.time() * 1000)
            metrics = [self.Metric(key, value, now, step) for key, value in values.items()]
            self.attempt(self.client.log_batch, self.run_id, metrics=metrics, synchronous=True)
        else:
            self.attempt(self.mlflow.log_metrics, values, step=step, synchronous=False)

    def finish(self):
        if self.kind == "mlflow-async":
            # Every queued value on the server before the run ends (and the clock stops).
            self.attempt(self.mlflow.flush_async_logging)
        self.attempt(self.mlflow.end_run)


def _executor(kind, env, options, steps, go_file, queue):
    """One executor process: set up, wait for the start, run the job, report."""
    os.environ.update(env)
    sys.path.insert(0, str(PROJECT_DIR))
    # The executors talk to the orchestrator through the queue; what clients print (MLflow
    # prints each run's address at its end) would only clutter the table.
    sys.stdout = open(os.devnull, "w")
    try:
        if kind in AUPSITE:
            if kind == "django":
                from bench.variants import setup_django

                setup_django()
            executor = AupsiteExecutor(kind, steps, **options)
        else:
            executor = MlflowExecutor(kind, steps, **options)
    except BaseException:  # noqa: BLE001 - reported: the variant cannot run
        queue.put({"setup_failed": traceback.format_exc()})
        return
    queue.put({"ready": True})
    while not os.path.exists(go_file):
        time.sleep(0.001)
    start = time.time()
    step_times = []
    clock = time.perf_counter
    for step in range(steps):
        began = clock()
        executor.step(step)
        step_times.append(clock() - began)
    began = clock()
    executor.finish()
    finish = clock() - began
    queue.put({
        "start": start, "end": time.time(), "step_times": step_times, "finish": finish,
        "errors": dict(executor.errors),
    })  # fmt: skip


def run_variant(kind, env, options_per_executor, steps, folder, timeout=VARIANT_TIMEOUT):
    """Run one executor process per entry of options_per_executor, started together.

    Returns {"start", "end", "step_times", "finishes", "errors", "error_kinds"}; executors
    that did not report within `timeout` are killed and counted as errors.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    go_file = Path(folder) / f"go-{kind}-{time.monotonic_ns()}"
    processes = [
        context.Process(target=_executor, args=(kind, env, options, steps, str(go_file), queue), daemon=True)
        for options in options_per_executor
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    reports, errors = [], Counter()
    try:
        ready = 0
        while ready < len(processes):  # every executor connected, its job started
            message = queue.get(timeout=max(1, deadline - time.monotonic()))
            if "setup_failed" in message:
                raise RuntimeError(f"{NAMES[kind]}: an executor could not start:\n{message['setup_failed']}")
            ready += 1
        go_file.touch()
        deadline = time.monotonic() + timeout
        while len(reports) < len(processes):
            try:
                reports.append(queue.get(timeout=max(0.1, deadline - time.monotonic())))
            except Exception:  # noqa: BLE001 - queue.Empty: the rest did not finish in time
                errors[f"timed out after {timeout} s"] += len(processes) - len(reports)
                break
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        go_file.unlink(missing_ok=True)
    for report in reports:
        errors.update(report["errors"])
    now = time.time()
    return {
        "start": min((report["start"] for report in reports), default=now),
        "end": max((report["end"] for report in reports), default=now),
        "step_times": [seconds for report in reports for seconds in report["step_times"]],
        "finishes": [report["finish"] for report in reports],
        "errors": sum(errors.values()),
        "error_kinds": errors.most_common(3),
        "reported": len(reports),
    }


def outcome(run, executors, steps, stored_jobs, stored_values):
    """The figures of one variant: values/s, errors, lost, time per step."""
    seconds = max(run["end"] - run["start"], 1e-9)
    tried = executors * (1 + steps * VALUES_PER_STEP)
    times = sorted(run["step_times"])
    return {
        "values_per_s": stored_values / seconds,
        "seconds": seconds,
        "values": stored_values,
        "errors": run["errors"],
        "error_kinds": run["error_kinds"],
        "lost": tried - (stored_jobs + stored_values),
        "step_median_s": statistics.median(times) if times else float("nan"),
        "step_p95_s": times[min(len(times) - 1, int(0.95 * len(times)))] if times else float("nan"),
        "step_mean_s": statistics.fmean(times) if times else float("nan"),
        "finish_max_s": max(run["finishes"], default=float("nan")),
    }


# -- the row --------------------------------------------------------------------------------


def measure(workdir, executors=EXECUTORS, steps=STEPS, kinds=AUPSITE + MLFLOW):
    """Every variant of `kinds` that can run here: {kind: outcome} and {kind: why not}."""
    folder = Path(tempfile.mkdtemp(prefix="remote-", dir=workdir))
    results, missing = {}, {}
    try:
        aupsite = [kind for kind in kinds if kind in AUPSITE]
        if "rest-buffered" in aupsite and not buffered_available():
            missing["rest-buffered"] = "not available: this RestConnector has no buffered parameter"
            aupsite.remove("rest-buffered")
        if aupsite:
            results.update(_measure_aupsite(folder, aupsite, executors, steps))
        mlflow = [kind for kind in kinds if kind in MLFLOW]
        if mlflow:
            why_not = mlflow_available()
            if why_not:
                missing.update({kind: why_not for kind in mlflow})
            else:
                try:
                    _measure_mlflow(folder, mlflow, executors, steps, results)
                except Exception as exc:  # noqa: BLE001 - the peer failing here is a finding, not our failure
                    reason = " ".join(str(exc).split())[-400:]
                    missing.update({kind: f"MLflow could not run: {reason}" for kind in mlflow if kind not in results})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results, missing


def _measure_aupsite(folder, kinds, executors, steps):
    from bench.workers import Worker

    env = aupsite_env(folder / "aupsite.sqlite3")
    setup = Worker("bench.remote.AupsiteSetup", env)
    results = {}
    try:
        token = setup.call("token")
        with gunicorn(env, folder) as url:
            # Every worker past its first requests (lazy imports, URLconf) before the clock.
            eid, rids = setup.call("experiment", "warm-up", executors)
            run_variant("rest", env, [{"eid": eid, "rid": rid, "url": url, "token": token} for rid in rids],
                        min(WARMUP_STEPS, steps), folder)
            for kind in kinds:
                eid, rids = setup.call("experiment", kind, executors)
                remote = {} if kind == "django" else {"url": url, "token": token}
                run = run_variant(kind, env, [{"eid": eid, "rid": rid, **remote} for rid in rids], steps, folder)
                results[kind] = outcome(run, executors, steps, *setup.call("count", eid))
    finally:
        setup.close()
    return results


def _measure_mlflow(folder, kinds, executors, steps, results):
    """Fills `results` variant by variant (what was measured stays if a later one fails)."""
    # No usage reports from the bench's clients; GitPython (which MLflow uses to tag a run
    # with its source's commit) quiet where git is missing.
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "GIT_PYTHON_REFRESH": "quiet"}
    (folder / "mlflow").mkdir()
    with mlflow_server(folder / "mlflow") as (url, store):
        # As for aupsite: every worker past its first requests before the clock.
        options = [{"url": url, "experiment_id": mlflow_experiment(url, "warm-up")}] * executors
        run_variant("mlflow-log-batch", env, options, min(WARMUP_STEPS, steps), folder)
        for kind in kinds:
            experiment_id = mlflow_experiment(url, kind)
            options = [{"url": url, "experiment_id": experiment_id}] * executors
            run = run_variant(kind, env, options, steps, folder)
            results[kind] = outcome(run, executors, steps, *mlflow_count(store, experiment_id))


def _figures(result):
    kinds = "; ".join(f"{count}x {kind}" for kind, count in result["error_kinds"])
    return (
        f"{result['values_per_s']:,.0f} values/s ({result['values']:,} in {fmt_time(result['seconds'])}), "
        f"{result['errors']} errors, {result['lost']} lost" + (f" ({kinds})" if kinds else "")
    )


def _step_time(result):
    return (
        f"per step median {fmt_time(result['step_median_s'])}, p95 {fmt_time(result['step_p95_s'])}, "
        f"mean {fmt_time(result['step_mean_s'])}; job end {fmt_time(result['finish_max_s'])}"
    )


def remote_rows(workdir, executors=EXECUTORS, steps=STEPS):
    """The rows "remote" of make bench."""
    results, missing = measure(workdir, executors, steps)
    return rows_from(results, missing, executors, steps), {"remote": {"results": results, "missing": missing}}


def rows_from(results, missing, executors=EXECUTORS, steps=STEPS):
    """The table's rows from measure()'s answers."""
    shape = f"{executors} x {steps} steps"
    rows = []
    reference = results.get("django")
    for kind in AUPSITE + MLFLOW:
        if kind in missing:
            rows.append(Row("remote", f"{shape}, {NAMES[kind]}", float("nan"), "", "runs", False, missing[kind]))
            continue
        if kind not in results:
            continue
        result = results[kind]
        clean = result["errors"] == 0 and result["lost"] == 0
        target, met = "0 errors, 0 lost", clean
        if reference and kind != "django":
            ratio = result["values_per_s"] / reference["values_per_s"]
            measure_text, unit = f"{shape}, {NAMES[kind]}: values/s vs DjangoConnector", "x"
            if kind == "rest":
                target, met = f">= {ONE_CALL_VS_DJANGO:g}x, {target}", clean and ratio >= ONE_CALL_VS_DJANGO
            elif kind == "rest-buffered":
                target, met = f">= {BUFFERED_VS_DJANGO:g}x, {target}", clean and ratio >= BUFFERED_VS_DJANGO
        else:
            ratio, unit = result["values_per_s"], "/s"
            measure_text = f"{shape}, {NAMES[kind]}: values/s (a score and {len(LABELS)} labeled results a step)"
        rows.append(Row("remote", measure_text, ratio, unit, target, met, f"{_figures(result)}; {_step_time(result)}"))

    comparisons = [
        ("rest", "mlflow-log-metric", "one call a result / MLflow log_metric per value", 1.0, "> 1x"),
        ("rest-batched", "mlflow-log-batch", f"batches of {BATCH} / MLflow log_batch per step", 1.0, "> 1x"),
        ("rest-buffered", "mlflow-async", "buffered / MLflow asynchronous logging", 1.0, "> 1x"),
        ("rest-buffered", "mlflow-log-metric", "buffered / MLflow log_metric per value", BUFFERED_VS_MLFLOW_PER_CALL,
         f">= {BUFFERED_VS_MLFLOW_PER_CALL:g}x"),
    ]
    for ours, theirs, text, least, target in comparisons:
        if ours in results and theirs in results:
            ratio = results[ours]["values_per_s"] / results[theirs]["values_per_s"]
            met = ratio >= least if least != 1.0 else ratio > 1.0
            rows.append(Row(
                "remote", f"{shape}: {text}, values/s", ratio, "x", target, met,
                f"aupsite {results[ours]['values_per_s']:,.0f}/s in {fmt_time(results[ours]['seconds'])}; "
                f"MLflow {results[theirs]['values_per_s']:,.0f}/s in {fmt_time(results[theirs]['seconds'])}",
            ))
        else:
            why = missing.get(ours) or missing.get(theirs) or "not measured"
            rows.append(Row("remote", f"{shape}: {text}, values/s", float("nan"), "", target, False, why))

    if "rest-buffered" in results:
        buffered = results["rest-buffered"]
        others = "; ".join(
            f"{NAMES[kind].removeprefix('aupsite ')} {fmt_time(results[kind]['step_median_s'])} "
            f"(p95 {fmt_time(results[kind]['step_p95_s'])})"
            for kind in ("django", "rest", "mlflow-async", "mlflow-log-metric") if kind in results
        )
        rows.append(Row(
            "remote", f"{shape}: buffered executor's time per reported step, median", buffered["step_median_s"] * 1e6,
            " µs", f"< {BUFFERED_STEP_LIMIT * 1e6:g} µs", buffered["step_median_s"] < BUFFERED_STEP_LIMIT,
            f"p95 {fmt_time(buffered['step_p95_s'])}, mean {fmt_time(buffered['step_mean_s'])}, job end (flush) "
            f"{fmt_time(buffered['finish_max_s'])}; beside it: {others}",
        ))
    else:
        rows.append(Row("remote", f"{shape}: buffered executor's time per reported step, median", float("nan"), "",
                        f"< {BUFFERED_STEP_LIMIT * 1e6:g} µs", False, missing.get("rest-buffered", "not measured")))
    return rows


def main():  # pragma: no cover - a shortcut for working on these rows alone
    sys.argv = [sys.argv[0], "--rows", "remote"]
    from bench.run import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
