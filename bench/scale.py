"""Scale past one web process: two "hosts" sharing one database, executors and a dashboard.

The shared-server shape of the README ("Several web processes and hosts"): two gunicorn
instances on two loopback ports (two hosts behind one proxy, as far as the database can
tell), each with several workers, on one PostgreSQL database. Executor processes report
through RestConnector (buffered when the client has it), half of them to each host,
while a dashboard client, logged in with a session, polls the experiment page as a
browser does (the summary's htmx poll every POLL_SECONDS; on each answer the jobs table,
the importance panel and the charts' data; the parallel coordinates at most every
PARCOORDS_SECONDS), alternating hosts tick by tick as a proxy would. Each page request's
latency is recorded, with no load (before and after the executors) and under load.

Afterwards the rows are counted in the database: every job must hold exactly its steps
(a write lost shows as a missing row, a retried write that doubled as an extra one).

Only the standard library and the project are imported at module level: the test of
the same shape (tests/test_scale.py) uses these pieces with the test database.
"""

import http.client
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LABELS = ["accuracy", "loss"]
USER = "bench"
PASSWORD = "bench-only-password"  # of a user in the throwaway benchmark database
# The page's clock (tracking.views.POLL_SECONDS) and parcoords.js's "at most every 10 s".
POLL_SECONDS = 2.0
PARCOORDS_SECONDS = 10.0

# -- the web hosts -------------------------------------------------------------------------


def start_hosts(env, count, workers, threads, logdir, timeout=180, worker_class="gthread"):
    """`count` "hosts": gunicorn instances serving aupsite, each with `workers` processes
    (gthread, `threads` threads each, keep-alive on) on a loopback socket bound here, so
    that no other program can take its port between choosing and binding. They start
    together; returns [(url, process)] once each answers. stop_hosts stops them. The
    database is the one of env's DATABASE_URL."""
    hosts = []
    try:
        for index in range(count):
            hosts.append(_launch_host(env, workers, threads, Path(logdir) / f"host-{index}.log", worker_class))
        deadline = time.monotonic() + timeout
        for url, process in hosts:
            _wait_for_host(url, process, deadline)
    except BaseException:
        stop_hosts(hosts)
        raise
    return hosts


def _launch_host(env, workers, threads, log_path, worker_class):
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    log = open(log_path, "w+")
    command = [
        sys.executable, "-m", "gunicorn", "aupsite.wsgi",
        "--bind", f"fd://{listener.fileno()}",
        "--workers", str(workers),
        # As make run-production runs it: gthread, each worker serving `threads` requests at
        # once and keeping idle connections open for 60 s (the sync worker closes every
        # connection after one answer, so a client's persistent connection would be
        # reconnected at every call, and a page waits behind whole executor batches).
        "--worker-class", worker_class, "--threads", str(threads), "--keep-alive", "60",
        "--no-control-socket",  # its default path is one per machine, shared by every gunicorn
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        pass_fds=[listener.fileno()], start_new_session=True,
    )  # fmt: skip
    listener.close()  # gunicorn has its own copy
    process.log = log
    return url, process


def _wait_for_host(url, process, deadline):
    port = urllib.parse.urlsplit(url).port
    while True:  # connections wait in the socket's queue until a worker is up
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start:\n{read_log(process)}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/api/resources/types/")
            status = connection.getresponse().status
            connection.close()
            if status == 401:  # the API answers: Django is loaded and the database reached
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer in time:\n{read_log(process)}")
        time.sleep(0.3)


def read_log(process, tail=4000):
    process.log.flush()
    process.log.seek(0)
    return process.log.read()[-tail:]


def stop_hosts(hosts):
    """Stop the gunicorns of start_hosts and all their workers (each its own process group)."""
    for _, process in hosts:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for _, process in hosts:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        process.log.close()


# -- the executors ---------------------------------------------------------------------------


def executor_connector(url, secret, buffered=True):
    """(RestConnector, "buffered" or "unbuffered"): buffered when asked and the client has it."""
    from tracking.client import RestConnector

    if buffered:
        try:
            return RestConnector(url, secret, buffered=True), "buffered"
        except TypeError:  # a client without the buffered mode (before s23-buffered)
            pass
    return RestConnector(url, secret), "unbuffered"


def _executor(url, secret, eid, rid, steps, duration, cutoff, buffered, go_file, queue):
    """One executor process: jobs of `steps` steps (a score and two labeled results each)
    until `duration` seconds have passed (at least one job); past `cutoff` seconds (None:
    never) the job in progress ends at once, as a trial stopped early does. Every
    exception is counted, as an executor would lose that result; the rows are counted in
    the database afterwards against the steps each job reports."""
    sys.path.insert(0, str(PROJECT_DIR))
    errors = Counter()
    try:
        connector, mode = executor_connector(url, secret, buffered)
        connector.get_resource_type()  # connected before the start, as a running executor is
    except Exception as exc:  # noqa: BLE001 - reported, the run fails
        queue.put({"fatal": f"{type(exc).__name__}: {exc}"})
        return
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            queue.put({"fatal": "the go file never appeared"})
            return
        time.sleep(0.001)

    def attempt(call, *args):
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - counted, as an executor would lose it
            errors[f"{type(exc).__name__}: {exc}"[:100]] += 1
            return None

    jobs, step_seconds, steps_done = [], 0.0, 0
    start = time.time()
    while not jobs or time.time() - start < duration:
        jid = attempt(connector.job_started, eid, rid, {"lr": 0.001 * (1 + len(jobs)), "layers": 1 + rid % 8})
        if jid is None:
            jobs.append([None, steps])  # the job and every step it would have had are lost
            continue
        jobs.append([jid, 0])
        for step in range(steps):
            if step and cutoff is not None and time.time() - start >= cutoff:
                break
            accuracy = (step + 1) / steps * (0.5 + 0.4 * ((rid * 7919 + len(jobs)) % 100) / 100)
            started = time.perf_counter()
            irid = attempt(connector.save_intermediate_result, jid, accuracy)
            attempt(connector.save_multiple_results, jid, irid, eid, LABELS, [accuracy, 1 - accuracy])
            step_seconds += time.perf_counter() - started
            jobs[-1][1] += 1
            steps_done += 1
        attempt(connector.job_finished, rid, jid, accuracy, "FINISHED")
    attempt(connector.close)  # the buffered client flushes here
    queue.put({
        "mode": mode, "start": start, "end": time.time(), "jobs": jobs,
        "step_seconds": step_seconds / max(1, steps_done), "errors": dict(errors),
    })  # fmt: skip


def run_executors(urls, secret, eid, rids, steps, duration, workdir, buffered=True, started=None, cutoff=None):
    """Executor processes (one per resource id; see _executor), spread round-robin over
    `urls`, started together; `started()` is called at the go. Returns their reports:
    "jobs" [[jid, steps written]], "errors", "mode", "start", "end", "step_seconds"."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    go_file = Path(workdir) / f"scale-go-{time.monotonic_ns()}"
    processes = [
        context.Process(
            target=_executor,
            args=(urls[index % len(urls)], secret, eid, rid, steps, duration, cutoff, buffered, str(go_file), queue),
            daemon=True,
        )
        for index, rid in enumerate(rids)
    ]
    for process in processes:
        process.start()
    try:
        time.sleep(1.0 + 0.1 * len(processes))  # let every executor import and connect
        if started:
            started()
        go_file.touch()
        reports = [queue.get(timeout=(cutoff or duration) + 300) for _ in processes]
        for process in processes:
            process.join(timeout=60)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
        go_file.unlink(missing_ok=True)
    fatal = [report["fatal"] for report in reports if "fatal" in report]
    if fatal:
        raise RuntimeError(f"executors could not start: {fatal[:3]}")
    return reports


# -- the dashboard ---------------------------------------------------------------------------


class Dashboard:
    """A researcher's browser tab on the experiment page, as HTTP requests.

    It logs in through the login form (on the first host) and then opens and polls the
    page the way templates/tracking/experiment_detail.html and static/aupsite/*.js do:
    the page, then the importance panel (hx-trigger load) and the parallel coordinates'
    data; every POLL_SECONDS the summary (htmx, HX-Target: summary, with the objective),
    and on its answer, together, the jobs table and the importance panel (htmx, triggered
    by the summary's answer) and the curves' data since the last cursor; the parallel
    coordinates at most every PARCOORDS_SECONDS. Each tick goes to the next host, as a
    proxy spreading requests would; the session cookie is valid on both (sessions live
    in the database). One keep-alive connection per host and kind of request, as a
    browser holds several per origin.
    """

    def __init__(self, urls, eid, username=USER, password=PASSWORD, timeout=60):
        self.hosts = [urllib.parse.urlsplit(url) for url in urls]
        self.eid = eid
        self.timeout = timeout
        self.cookies = {}
        self.samples = []  # (phase, kind, seconds, status, host)
        self._connections = {}
        self._lock = threading.Lock()
        self._turn = 0
        self._login(username, password)
        self._charts = {"cursor": None, "have": [], "history": None}
        self._parcoords_at = 0.0
        self._pool = ThreadPoolExecutor(4)  # the browser's parallel connections

    # HTTP, with keep-alive and cookies ----------------------------------------------------

    def _request(self, host, kind, method, path, headers=None, body=None):
        # Each kind of request is sent by one thread at a time (a tick waits for its
        # requests before the next), so it can own its connection.
        key = (host.netloc, kind)
        connection = self._connections.get(key)
        if connection is None:
            connection = http.client.HTTPConnection(host.hostname, host.port, timeout=self.timeout)
            self._connections[key] = connection
        headers = dict(headers or {})
        with self._lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed a kept-alive connection that had been idle (its
                # keep-alive timeout): a browser opens a new one and sends again.
                connection.close()
                if attempt == 2:
                    raise
        seconds = time.perf_counter() - started
        with self._lock:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data, seconds

    def _login(self, username, password):
        host = self.hosts[0]
        status, page, _ = self._request(host, "page", "GET", "/accounts/login/")
        if status != 200:
            raise RuntimeError(f"the login page answered {status}")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        status, _, _ = self._request(host, "page", "POST", "/accounts/login/", {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://{host.netloc}",
            "Referer": f"http://{host.netloc}/accounts/login/",
        }, body)  # fmt: skip
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"the login answered {status}, without a session")

    def _get(self, phase, kind, host, path, htmx_target=None):
        headers = {"Accept": "application/json"} if path.split("?")[0].endswith(".json") else {}
        if htmx_target:
            headers.update({"HX-Request": "true", "HX-Target": htmx_target, "HX-Trigger": htmx_target,
                            "HX-Current-URL": f"http://{host.netloc}/experiments/{self.eid}/"})
        status, body, seconds = self._request(host, kind, "GET", path, headers)
        with self._lock:
            self.samples.append((phase, kind, seconds, status, host.netloc))
        return status, body

    # What the page does ------------------------------------------------------------------

    def _next_host(self):
        host = self.hosts[self._turn % len(self.hosts)]
        self._turn += 1
        return host

    def _apply_charts(self, payload, full):
        """charts.js's Experiment.apply, reduced to what the next poll sends back."""
        state = self._charts
        state["cursor"] = payload["cursor"]
        held = set() if full else set(state["have"])
        held = {jid for jid in held if jid in {job["id"] for job in payload["curves"]["jobs"]}}
        held |= {int(jid) for jid in payload["curves"]["data"]}
        state["have"] = [job["id"] for job in payload["curves"]["jobs"] if job["id"] in held]
        if payload.get("history"):
            state["history"] = payload.get("history_version")

    def _charts_path(self):
        state = self._charts
        query = {"series": "score", "since": state["cursor"], "have": ",".join(map(str, state["have"]))}
        if state["history"]:
            query["history"] = state["history"]
        return f"/experiments/{self.eid}/charts.json?{urllib.parse.urlencode(query)}"

    def open_page(self, phase):
        host = self._next_host()
        status, page = self._get(phase, "page", host, f"/experiments/{self.eid}/")
        if status == 200:
            found = re.search(rb'<script id="chart-data" type="application/json">(.*?)</script>', page, re.S)
            self._apply_charts(json.loads(found.group(1)), full=True)
        self._together(
            lambda: self._get(phase, "importance", host, f"/experiments/{self.eid}/", "importance"),
            lambda: self._parcoords(phase, host),
        )

    def _together(self, *calls):
        """Run the calls at once and wait for them all; the first exception is raised."""
        for future in [self._pool.submit(call) for call in calls]:
            future.result()

    def _parcoords(self, phase, host):
        self._parcoords_at = time.monotonic()
        self._get(phase, "parcoords", host, f"/experiments/{self.eid}/parcoords.json?objective=score")

    def _curves(self, phase, host):
        status, body = self._get(phase, "charts", host, self._charts_path())
        if status == 200:
            self._apply_charts(json.loads(body), full=False)

    def tick(self, phase):
        host = self._next_host()
        self._get(phase, "summary", host, f"/experiments/{self.eid}/?objective=score", "summary")
        calls = [
            lambda: self._get(phase, "jobs", host, f"/experiments/{self.eid}/", "jobs"),
            lambda: self._get(phase, "importance", host, f"/experiments/{self.eid}/", "importance"),
            lambda: self._curves(phase, host),
        ]
        if time.monotonic() - self._parcoords_at > PARCOORDS_SECONDS:
            calls.append(lambda: self._parcoords(phase, host))
        self._together(*calls)

    def warm_up(self, ticks):
        """The page opened and polled `ticks` times, at once, unrecorded ("warm-up")."""
        self.open_page("warm-up")
        for _ in range(ticks):
            self.tick("warm-up")

    def watch(self, phase, stop, poll_seconds=POLL_SECONDS):
        """Open the page, then tick every `poll_seconds` until the event `stop` is set.
        htmx's "every 2s" fires on the clock, whatever the answers; a tick that comes
        while the previous one is still in flight is dropped (hx-sync drop), so a slow
        tick makes the next one wait for the clock's following beat."""
        self.open_page(phase)
        beat = time.monotonic()
        while True:
            beat += poll_seconds
            while beat < time.monotonic():
                beat += poll_seconds
            if stop.wait(beat - time.monotonic()):
                return
            self.tick(phase)

    def watch_in_thread(self, phase, poll_seconds=POLL_SECONDS):
        """Watch in a thread; returns a function that stops it and raises what it raised."""
        stop, failure = threading.Event(), []

        def work():
            try:
                self.watch(phase, stop, poll_seconds)
            except BaseException as exc:  # noqa: BLE001 - re-raised by the stopper
                failure.append(exc)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()

        def stopper():
            stop.set()
            thread.join(timeout=self.timeout * 2)
            if failure:
                raise failure[0]

        return stopper

    def close(self):
        self._pool.shutdown()
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def latencies(self, phase):
        return [seconds for sample_phase, _, seconds, _, _ in self.samples if sample_phase == phase]

    def statuses(self):
        """{status: requests}, of every request the page sent (the warm-up's too)."""
        return Counter(status for _, _, _, status, _ in self.samples)

    def hosts_asked(self):
        """{host: requests}: the proxy's spread."""
        return Counter(host for _, _, _, _, host in self.samples)


def percentile(values, fraction):
    """The `fraction` percentile of `values` (linear between the closest ranks)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- the database side (in a bench Worker, or in the test process) --------------------------


def experiment_config(executors):
    return {
        "name": "scale",
        "proposer": "random",
        "target": "max",
        "n_samples": executors,
        "script": "train.py",
        "parameter_config": [
            {"name": "lr", "range": [0.0001, 0.1], "type": "float"},
            {"name": "layers", "range": [1, 8], "type": "int"},
        ],
        "resource_args": {"multi_res_labels": LABELS},
    }


def preload_history(experiment, jobs, steps):
    """`jobs` finished jobs of `steps` steps in bulk, so that the page has a history to
    show (jobs table, charts, importance) before the executors add theirs."""
    from django.utils import timezone

    from tracking.models import IntermediateResult, Job, JobAttempt, MultipleResult, ResultLabel

    now = timezone.now()
    ResultLabel.objects.bulk_create(
        ResultLabel(experiment=experiment, label_order=order, name=name) for order, name in enumerate(LABELS, 1)
    )
    created = Job.objects.bulk_create(
        Job(experiment=experiment, number=number, status="FINISHED", score=0.5 + 0.4 * ((number * 37) % 100) / 100,
            config={"lr": 0.0001 + 0.001 * number, "layers": 1 + number % 8}, start_time=now, end_time=now)
        for number in range(1, jobs + 1)
    )  # fmt: skip
    JobAttempt.objects.bulk_create(JobAttempt(job=job, number=0, start_time=now, end_time=now) for job in created)
    for job in created:
        results = IntermediateResult.objects.bulk_create(
            IntermediateResult(job=job, number=step, score=job.score * (step + 1) / steps, receive_time=now)
            for step in range(steps)
        )
        MultipleResult.objects.bulk_create(
            MultipleResult(job=job, intermediate_result=result, experiment=experiment, label_order=order,
                           value=result.score if order == 1 else 1 - result.score, receive_time=now,
                           is_last=result.number == steps - 1)
            for result in results
            for order in (1, 2)
        )  # fmt: skip


def stored_rows(jids):
    """{jid: (intermediate results, labeled results)} stored for those jobs. Two queries."""
    from django.db.models import Count

    from tracking.models import IntermediateResult, MultipleResult

    def per_job(model):
        rows = model.objects.filter(job_id__in=jids).values("job_id").annotate(n=Count("pk"))
        return dict(rows.values_list("job_id", "n"))

    results, labeled = per_job(IntermediateResult), per_job(MultipleResult)
    return {jid: (results.get(jid, 0), labeled.get(jid, 0)) for jid in jids}


def tally(reports, stored):
    """What the executors wrote against what the database holds.

    Returns (results stored, rows lost, rows doubled, errors, the 3 commonest errors): a
    job the executor could not start loses its row and its steps' (1 + 3 x steps); a
    started job must hold exactly the steps it reports, as results and twice as labeled
    results: any fewer are lost, any more were written twice."""
    lost = doubled = results = 0
    errors = Counter()
    for report in reports:
        errors.update(report["errors"])
        for jid, steps in report["jobs"]:
            if jid is None:
                lost += 1 + 3 * steps
                continue
            have_results, have_labeled = stored.get(jid, (0, 0))
            results += have_results
            lost += max(0, steps - have_results) + max(0, 2 * steps - have_labeled)
            doubled += max(0, have_results - steps) + max(0, have_labeled - 2 * steps)
    return results, lost, doubled, sum(errors.values()), errors.most_common(3)


class ScaleDatabase:
    """The bench's database side, in a Worker with the database's environment."""

    def __init__(self):
        from bench.variants import setup_django

        setup_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def setup(self, executors, history_jobs, history_steps):
        """The user (with a password, for the dashboard's login), an API token, a running
        experiment with a history, and one cpu resource per executor.
        Returns (eid, rids, token secret)."""
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from tracking.models import ApiToken, Experiment, Resource

        user = get_user_model().objects.create_user(USER, password=PASSWORD)
        _, secret = ApiToken.issue(user, "scale bench")
        experiment = Experiment.objects.create(
            owner=user, name="scale", status="RUNNING", config=experiment_config(executors), start_time=timezone.now()
        )
        preload_history(experiment, history_jobs, history_steps)
        rids = [Resource.objects.create(name=f"executor {index}", type="cpu").pk for index in range(executors)]
        return experiment.pk, rids, secret

    def stored_rows(self, eid, jids):
        """(stored_rows(jids), the experiment's number of jobs)."""
        from django.db import connection

        from tracking.models import Job

        connection.close()  # a fresh connection: nothing cached from before the load
        return stored_rows(jids), Job.objects.filter(experiment_id=eid).count()


# -- the bench row -----------------------------------------------------------------------------

HOSTS = 2
WORKERS = 3  # per host
THREADS = 4  # per worker
WORKER_CLASS = "gthread"
EXECUTORS = 16
STEPS = 200  # per job; each executor runs jobs for LOAD_SECONDS, the last one stopped early
LOAD_SECONDS = 30.0
IDLE_SECONDS = 15.0  # of dashboard polling alone, before the load and again after it
HISTORY = (32, 200)  # finished jobs x steps already in the experiment
P95_TARGET = 1.0  # seconds: half the poll interval (see rows())


def run(workdir, db_env, buffered=True, executors=EXECUTORS, steps=STEPS, load_seconds=LOAD_SECONDS,
        idle_seconds=IDLE_SECONDS, history=HISTORY):
    """The whole scenario on the database of `db_env`; returns its measurements."""
    from bench.workers import Worker

    workdir = Path(workdir)
    env = {**db_env, "DJANGO_SETTINGS_MODULE": "aupsite.settings", "AUPSITE_ENV": "local", "DEBUG": "0"}
    database = Worker("bench.scale.ScaleDatabase", env)
    hosts, dashboard = [], None
    try:
        eid, rids, secret = database.call("setup", executors, *history)
        hosts = start_hosts(env, HOSTS, WORKERS, THREADS, workdir, worker_class=WORKER_CLASS)
        urls = [url for url, _ in hosts]
        dashboard = Dashboard(urls, eid)
        # Every worker of both hosts serves the page once before anything is timed: a
        # worker's first requests load templates and open its database connection.
        dashboard.warm_up(HOSTS * WORKERS)

        stop = dashboard.watch_in_thread("idle")
        time.sleep(idle_seconds)
        stop()
        stopper = []
        reports = run_executors(
            urls, secret, eid, rids, steps, load_seconds, workdir, buffered,
            started=lambda: stopper.append(dashboard.watch_in_thread("load")), cutoff=load_seconds,
        )  # fmt: skip
        stopper[0]()
        stop = dashboard.watch_in_thread("idle")
        time.sleep(idle_seconds)
        stop()
        server_errors = [read_log(process) for _, process in hosts if "Traceback" in read_log(process)]
        dashboard.close()
        stop_hosts(hosts)
        hosts = []
        jids = [jid for report in reports for jid, _ in report["jobs"] if jid is not None]
        stored, jobs_stored = database.call("stored_rows", eid, jids)
    finally:
        # The servers are always stopped, whatever failed.
        if dashboard:
            dashboard.close()
        stop_hosts(hosts)
        database.close()
    results, lost, doubled, errors, error_kinds = tally(reports, stored)
    # A job started twice (a retried start written anew) would be a job no executor knows.
    doubled += max(0, jobs_stored - history[0] - len(jids))
    seconds = max(report["end"] for report in reports) - min(report["start"] for report in reports)
    idle, load = dashboard.latencies("idle"), dashboard.latencies("load")
    by_kind = {}
    for phase, kind, latency, _, _ in dashboard.samples:
        if phase == "warm-up":
            continue
        by_kind.setdefault(f"{phase} {kind}", []).append(latency)
    return {
        "shape": {"hosts": HOSTS, "workers": WORKERS, "threads": THREADS, "worker_class": WORKER_CLASS,
                  "executors": executors, "steps": steps, "load_seconds": load_seconds, "idle_seconds": idle_seconds,
                  "history": history},
        "modes": sorted({report["mode"] for report in reports}),
        "results_per_s": results / seconds,
        "results": results,
        "jobs": len(jids),
        "seconds": seconds,
        "errors": errors,
        "error_kinds": error_kinds,
        "lost_rows": lost,
        "doubled_rows": doubled,
        "executor_step_seconds": statistics.median(report["step_seconds"] for report in reports),
        "page_statuses": {str(status): count for status, count in dashboard.statuses().items()},
        "page_errors": sum(count for status, count in dashboard.statuses().items() if status != 200),
        "idle": {"requests": len(idle), "p50_s": percentile(idle, 0.5), "p95_s": percentile(idle, 0.95)},
        "load": {"requests": len(load), "p50_s": percentile(load, 0.5), "p95_s": percentile(load, 0.95)},
        "by_kind": {
            name: {"requests": len(values), "p50_s": percentile(values, 0.5), "p95_s": percentile(values, 0.95)}
            for name, values in sorted(by_kind.items())
        },
        "server_errors": server_errors[:1],
    }


def _kinds(error_kinds):
    return f" ({'; '.join(f'{count} x {kind}' for kind, count in error_kinds)})" if error_kinds else ""


def rows(workdir, postgres_env):
    """The "scale" row: on PostgreSQL when make bench gives one (POSTGRES_URL), else on an
    SQLite file (one machine only; see the README)."""
    from bench.harness import Row, fmt_time

    if os.environ.get("POSTGRES_URL"):
        database, env = "PostgreSQL", postgres_env("bench_scale")
    else:
        database, env = "SQLite", {"DATABASE_URL": f"sqlite:///{Path(workdir) / 'scale.sqlite3'}"}
    outcome = run(workdir, env)
    given = outcome["shape"]
    shape = (f"{given['hosts']} hosts x {given['workers']} gunicorn {given['worker_class']} workers x "
             f"{given['threads']} threads, {database}, "
             f"{given['executors']} executors ({'/'.join(outcome['modes'])} RestConnector)")
    clean = outcome["errors"] == 0 and outcome["lost_rows"] == 0 and outcome["doubled_rows"] == 0
    idle, load = outcome["idle"], outcome["load"]
    under_load = [name for name in outcome["by_kind"] if name.startswith("load ")]
    slowest = max(under_load, key=lambda name: outcome["by_kind"][name]["p95_s"])
    result_rows = [
        Row(
            "scale", f"{shape}: results/s", outcome["results_per_s"], "/s", "0 errors, 0 lost, 0 doubled", clean,
            f"{outcome['results']:,} results in {outcome['jobs']} jobs of up to {given['steps']} steps (+2 labels) in "
            f"{fmt_time(outcome['seconds'])}; {outcome['errors']} errors{_kinds(outcome['error_kinds'])}, "
            f"{outcome['lost_rows']} lost, {outcome['doubled_rows']} doubled (counted in the database); "
            f"executor's time per step {fmt_time(outcome['executor_step_seconds'])}",
        ),
        # The page's clock ticks every 2 s and each tick is two requests one after the
        # other (the summary, then the table and the charts on its answer): under 1 s
        # each, the dashboard keeps up with its own clock under load.
        Row(
            "scale", "dashboard page requests under load: p95", load["p95_s"], " s",
            f"< {P95_TARGET:g} s (half the {POLL_SECONDS:g} s poll), all 200",
            load["p95_s"] < P95_TARGET and outcome["page_errors"] == 0,
            f"under load p50 {fmt_time(load['p50_s'])}, p95 {fmt_time(load['p95_s'])} ({load['requests']} requests); "
            f"no load p50 {fmt_time(idle['p50_s'])}, p95 {fmt_time(idle['p95_s'])} ({idle['requests']} requests), "
            f"p95 x{load['p95_s'] / idle['p95_s']:.1f}; slowest {slowest[5:]} p95 "
            f"{fmt_time(outcome['by_kind'][slowest]['p95_s'])}; answers {outcome['page_statuses']}",
        ),
    ]
    return result_rows, {"scale": outcome}
