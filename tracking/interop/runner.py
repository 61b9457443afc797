"""Running an Auptimizer 2.0 experiment with aupsite as its tracker (``manage.py aup_run``).

Auptimizer's own entry point (``python -m aup experiment.json``) builds an
``aup.Experiment`` with the SQLite connector named in ``.aup/env.ini``, calls ``start()``
and waits in ``finish()``. We build the same ``Experiment`` with aupsite's connector and
run it the same way, except where Auptimizer 2.0 goes wrong; each workaround lives
here, is applied at run time, and never touches Auptimizer's files:

1. Stopping. Auptimizer's stop-watch thread (``Experiment._check_status``) answers a
   REQUEST_STOP with ``_thread.interrupt_main()`` and its Ctrl-C handler
   (``Experiment._suspend``) then waits in ``executor.shutdown(wait=True)`` for every
   running job script to end on its own, calls ``sys.exit`` from inside a signal
   handler, and lets a job finishing meanwhile start a new one that is recorded
   RUNNING and never run. ``Experiment.start()`` also starts one more watcher thread
   per finished job. Our subclass turns that watcher off; one thread of ours polls the
   experiment's status, and our own SIGINT/SIGTERM handlers only set a flag. The main
   thread then stops the experiment in an order that always ends: no new jobs (under
   the resource manager's lock, which Auptimizer's job callbacks hold), running jobs
   ended as cancelled (Auptimizer's own ``resource_manager.suspend()``), job processes
   terminated (SIGTERM, then SIGKILL), the experiment STOPPED, jobs still marked
   RUNNING cancelled, our resources freed. A job that ends while the stop is under way
   (Ctrl-C in a terminal reaches the job scripts too) is cancelled like the others,
   not retried or finished with the score it last reported (``update``). A second
   Ctrl-C skips the grace period given to job scripts. A job thread that still does
   not end (a remote job that never answers) is reported, and the command exits
   without waiting for it.
2. Finishing. ``Experiment.finish()`` decides that the experiment is over when no job
   is pending, but a failed job being retried is briefly not pending; when that
   happens after the last proposal, Auptimizer shuts its executor down, the retry is
   recorded RUNNING and never runs. We wait for the end ourselves, looking at the
   pending jobs under the resource manager's lock (Auptimizer's callbacks update them
   holding it), and call ``finish()`` only once it is true.
3. Passive resources. ``PassiveResourceManager.get_available`` does not take the
   ``rid_blacklist`` argument that ``Experiment.submit_job`` passes, so every passive
   experiment fails with a TypeError; we wrap that one method of the instance.
4. GPU, node and AWS resources. Auptimizer reads their mappings (resource id -> GPU id
   or user@host) from ``env.ini``; we write one in a temporary folder from aupsite's
   resources, so the ids it gets from the connector are aupsite's.
5. The jobs folder. ``Job.verify_local`` creates the working folder's ``jobs/`` when it
   is missing, and two jobs started at once can both find it missing: the second
   ``makedirs`` raises FileExistsError, which fails that job (and, unless failures are
   ignored, the experiment). We create it before the first job.

The early-stopping daemon's call ``get_intermediate_results_experiment(None, ...)``,
made before the experiment exists, is answered ``{}`` by DjangoConnector itself.

This module imports neither Django nor Auptimizer; ``ExperimentRun`` gets the ``aup``
package and the connector from its caller.
"""

import configparser
import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("tracking.interop")

# Auptimizer's resource types (aup.EE.Resource.AbstractResourceManager) and the env.ini
# key of the mapping each remote or GPU type needs.
RESOURCE_TYPES = ("cpu", "gpu", "node", "aws", "passive")
ENV_MAPPINGS = {"gpu": "gpu_mapping", "node": "node_mapping", "aws": "aws_mapping"}

# Exit statuses of aup_run: finished 0, failed 1, stopped from the dashboard 1 (as
# Auptimizer's own stop), and 128 + the signal number for a signal, as shells do.
EXIT_STOPPED = 1


def write_env(folder, resources):
    """Write the env.ini Auptimizer reads in `folder`.

    `resources` are (rid, type, name) of aupsite's resources: a GPU resource's name is
    its GPU id, a node's is ``user@host[:port] [keyfile]``, an AWS one's its host or
    instance id. No database is named: the connector is handed to Auptimizer, which
    then never opens one of its own.
    """
    folder = Path(folder)
    config = configparser.ConfigParser()
    config.optionxform = str  # Auptimizer's keys are case-sensitive
    section = {"Auptimizer_PATH": str(folder), "TMP_FOLDER": str(folder / "tmp")}
    for rtype, key in ENV_MAPPINGS.items():
        mapping = {str(rid): name for rid, kind, name in resources if kind == rtype}
        section[key] = json.dumps(mapping)
    config["Auptimizer"] = section
    (folder / "tmp").mkdir(exist_ok=True)
    with open(folder / "env.ini", "w") as stream:
        config.write(stream)
    return folder


# -- job processes ----------------------------------------------------------------------


def _process_table():
    """{parent pid: [live child pids]} from /proc (Linux); None where there is no /proc."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    table = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            continue  # ended meanwhile
        # "pid (command) state ppid ...": the command may itself contain ") ".
        state, ppid = stat[stat.rfind(b")") + 2 :].split()[:2]
        if state not in (b"Z", b"X"):
            table.setdefault(int(ppid), []).append(int(name))
    return table


def job_processes():
    """The live processes started by this one (job scripts and whatever they started)."""
    table = _process_table()
    if table is None:
        return None
    found, parents = [], [os.getpid()]
    while parents:
        for child in table.get(parents.pop(), ()):
            found.append(child)
            parents.append(child)
    return found


def end_job_processes(grace_seconds, hurry=None):
    """SIGTERM every job process (a training script may save a checkpoint), SIGKILL
    those still alive after `grace_seconds` (or as soon as the `hurry` event is set);
    return how many were ended."""
    pids = job_processes()
    if pids is None:
        logger.warning("cannot list job processes on this system (no /proc); running job scripts are left alone")
        return 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    alive = pids
    while alive and time.monotonic() < deadline and not (hurry and hurry.is_set()):
        time.sleep(0.05)
        live = set(job_processes() or ())
        alive = [pid for pid in alive if pid in live]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


# -- the run ---------------------------------------------------------------------------


@dataclass
class Outcome:
    eid: int
    name: str | None
    status: str  # FINISHED, FAILED or STOPPED
    best: list | None = None  # [jid, score], or None
    stopped_by: str | None = None  # "request", "deleted", "SIGINT", "SIGTERM"
    error: str | None = None
    lingering_threads: list = field(default_factory=list)

    @property
    def exit_status(self):
        if self.status == "FINISHED":
            return 0
        if self.stopped_by in ("SIGINT", "SIGTERM"):
            return 128 + getattr(signal, self.stopped_by)
        return EXIT_STOPPED


class ExperimentRun:
    """One Auptimizer experiment, run with `connector` as its tracker.

    `poll_seconds`: how often the experiment's status is read for a stop request;
    `sleep_seconds`: Auptimizer's ``sleep_time``; `grace_seconds`: how long job scripts
    get to end after SIGTERM, and job threads to end after that.
    """

    def __init__(self, aup, config, username, connector, auppath, *, poll_seconds=1.0, sleep_seconds=1.0, grace_seconds=5.0):
        self.aup = aup
        self.connector = connector
        self.poll_seconds = poll_seconds
        self.sleep_seconds = sleep_seconds
        self.grace_seconds = grace_seconds
        self._stop = threading.Event()
        self._hurry = threading.Event()  # a second Ctrl-C: no more grace
        self._over = threading.Event()
        # Reentrant: the SIGINT handler (main thread) may run while the main thread holds it.
        self._stop_lock = threading.RLock()
        self.stopped_by = None
        self._in_auptimizer = False  # the main thread is inside Experiment.start()
        self._main_thread = threading.main_thread()
        # The read end of the signal wakeup socket while run() is under way (see run()).
        self._signals_received = None
        self.experiment = self._build(config, username, auppath)

    # -- construction -------------------------------------------------------------------

    def _build(self, config, username, auppath):
        run = self

        class WatchedExperiment(self.aup.Experiment):
            """Auptimizer's Experiment, stopped by the run (workaround 1)."""

            def _check_status(self):
                # Experiment.start() runs this in a new thread on every call; the run
                # watches the status itself, in one thread.
                return None

            def update(self, score, jid):
                # Auptimizer's callback for a job that ended. Once a stop is under way a
                # job ends because of it (Ctrl-C in a terminal reaches the job scripts
                # too): it is cancelled, as suspend() cancels the others, rather than
                # retried, failed or finished with a partial score.
                if run.stopping:
                    self.pending_jobs.pop(jid, None)
                    self.resource_manager.finish_job(jid, None)
                    return None
                return super().update(score, jid)

        experiment = WatchedExperiment(
            self.aup.BasicConfig(**config),
            username=username,
            connector=self.connector,
            auppath=str(auppath),
            sleep_time=self.sleep_seconds,
            request_stop_time=self.poll_seconds,
        )
        manager = experiment.resource_manager
        if type(manager).__name__ == "PassiveResourceManager":
            get_available = manager.get_available

            def get_available_ignoring_blacklist(username, rtype, rid_blacklist=None):
                # Workaround 3: the passive manager runs one job at a time, so a
                # blacklist (of a failed job's resource) has nothing to choose from.
                return get_available(username, rtype)

            manager.get_available = get_available_ignoring_blacklist
        workingdir = Path(experiment.exp_config["workingdir"])
        if workingdir.is_dir():  # else Auptimizer's own check reports the missing folder
            (workingdir / "jobs").mkdir(exist_ok=True)  # workaround 5
        return experiment

    @property
    def eid(self):
        return self.experiment.eid

    @property
    def name(self):
        return self.experiment.exp_config.get("name")

    # -- stop requests ------------------------------------------------------------------

    @property
    def stopping(self):
        """True once a stop was asked for, or SIGINT/SIGTERM reached this process."""
        return self._stop.is_set() or self._signal_arrived()

    def _signal_arrived(self):
        # Ctrl-C in a terminal signals the job scripts and this process at once. A script
        # can die of it, and its job thread call update(), before the main thread runs our
        # Python handler (Python runs handlers in the main thread only, between bytecodes).
        # The C-level handler has already written the signal's number to the wakeup socket
        # by then: the kernel queued this process's signal in the same kill() that killed
        # the script, and delivers it to the first of our threads that returns to user
        # space. Peeking leaves the bytes for nobody else to need; they are a few per run.
        reader = self._signals_received
        if reader is None:
            return False
        try:
            received = reader.recv(4096, socket.MSG_PEEK)
        except OSError:  # BlockingIOError: nothing arrived
            return False
        return signal.SIGINT in received or signal.SIGTERM in received

    def request_stop(self, reason):
        """Ask the run to stop (from any thread); the first reason is kept."""
        with self._stop_lock:
            if self._stop.is_set():
                return
            self.stopped_by = reason
            self._stop.set()  # wakes the main thread waiting on it
        if self._in_auptimizer and threading.current_thread() is not self._main_thread:
            # The main thread may be blocked inside Auptimizer (a passive job waits on
            # input()): a signal interrupts the wait, and our handler ends start().
            with contextlib.suppress(Exception):
                signal.pthread_kill(self._main_thread.ident, signal.SIGINT)

    def _on_signal(self, signum, frame):
        if self._stop.is_set() and not self._in_auptimizer:
            self._hurry.set()
        self.request_stop(signal.Signals(signum).name)
        if self._in_auptimizer:
            raise KeyboardInterrupt

    def _watch(self):
        """Poll the experiment's status; a REQUEST_STOP from the dashboard stops the run."""
        while not self._over.wait(self.poll_seconds):
            try:
                status = self.connector.maybe_get_experiment_status(self.eid)
            except ValueError:  # NotFoundError is one: the experiment was deleted
                self.request_stop("deleted")
                return
            except Exception as exc:  # noqa: BLE001 - a database hiccup; try again at the next poll
                logger.warning("could not read the status of experiment %s: %s", self.eid, exc)
                continue
            if status is None:  # the connector is closed: the run is over
                return
            if status == "REQUEST_STOP":
                self.request_stop("request")
                return

    # -- the run ------------------------------------------------------------------------

    def run(self):
        """Run the experiment to its end or to a stop; return an Outcome."""
        handlers = {}
        wakeup = None
        if threading.current_thread() is self._main_thread:
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, self._on_signal)
            # So that a job thread can tell a signal arrived before the handler ran (stopping).
            self._signals_received, writer = socket.socketpair()
            self._signals_received.setblocking(False)
            writer.setblocking(False)
            wakeup = (signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False), writer)
        watcher = threading.Thread(target=self._watch, name="aupsite-stop-watch", daemon=True)
        watcher.start()
        error = None
        try:
            try:
                self._in_auptimizer = True
                self.experiment.start()
            except KeyboardInterrupt:
                self.request_stop(self.stopped_by or "SIGINT")
            except Exception as exc:  # noqa: BLE001 - Auptimizer raises bare Exception("Cannot run experiment!")
                error = str(exc) or type(exc).__name__
                logger.error("the experiment could not start its jobs: %s", error)
                self.experiment.proposer.set_status(self.aup.Proposer.ProposerStatus.FAILED)
            finally:
                self._in_auptimizer = False
            while not self._stop.is_set() and not self._all_jobs_done():
                # A signal interrupts the wait, and the handler's request_stop ends it.
                self._stop.wait(self.sleep_seconds)
            if self._stop.is_set():
                return self._stop_experiment()
            return self._finish(error)
        finally:
            self._over.set()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            if wakeup is not None:
                previous, writer = wakeup
                signal.set_wakeup_fd(previous)
                writer.close()
                self._signals_received.close()
                self._signals_received = None

    def _lock(self):
        # CPU, GPU, node and AWS managers run each job's callback (Experiment.update)
        # holding this lock; the passive manager has none and runs jobs in start().
        return getattr(self.experiment.resource_manager, "lock", None) or contextlib.nullcontext()

    def _all_jobs_done(self):
        """Workaround 2: no job pending and nothing left to propose, read under the lock."""
        running = self.aup.Proposer.ProposerStatus.RUNNING
        with self._lock():
            return self.experiment.proposer.get_status() != running and not self.experiment.pending_jobs

    def _finish(self, error):
        self._cancel_leftover_jobs()
        best = None
        try:
            # Auptimizer's own end: the experiment's status, its best result, resources
            # freed, connector closed, then the proposer saved for a resume.
            best = self.experiment.finish()
        except Exception as exc:  # noqa: BLE001 - e.g. a proposer that cannot be saved; the run is recorded
            logger.error("Auptimizer failed while finishing the experiment: %s", exc)
            error = error or f"Auptimizer failed while finishing: {exc}"
        finally:
            self._close()
        status = "FAILED" if self.experiment.proposer.get_status().name == "FAILED" else "FINISHED"
        best = list(best) if best and best[0] is not None else None
        return Outcome(self.eid, self.name, status, best=best, error=error)

    def _stop_experiment(self):
        """Workaround 1: end the experiment STOPPED, whatever its jobs are doing."""
        experiment, manager = self.experiment, self.experiment.resource_manager
        logger.warning("stopping experiment %s (%s)", self.eid, self.stopped_by)
        self._try("mark the experiment STOPPING", self.connector.change_experiment_status, self.eid, "STOPPING")
        with self._lock():
            # No job callback runs meanwhile: from here none starts a new job (they only
            # do while the proposer runs), and every running job is ended as cancelled.
            experiment.proposer.set_status(self.aup.Proposer.ProposerStatus.FINISHED)
            self._try("cancel the running jobs", manager.suspend)
            # Jobs ended on purpose have not failed: their output is no error message.
            manager.log_error_message = lambda message: None
            executor = getattr(manager, "executor", None)
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        ended = end_job_processes(self.grace_seconds, self._hurry)
        if ended:
            logger.warning("ended %d job process(es)", ended)
        lingering = self._join_job_threads()
        manager.early_stop_daemon_finished = True
        self._try("record the experiment STOPPED", self.connector.end_experiment, self.eid, "STOPPED")
        self._cancel_leftover_jobs()
        self._try("free the experiment's resources", self.connector.free_all_resources)
        best = self._try("read the best result", self.connector.get_best_result, self.eid, manager.maximize)
        self._close()
        return Outcome(self.eid, self.name, "STOPPED", best=best, stopped_by=self.stopped_by, lingering_threads=lingering)

    def _join_job_threads(self):
        executor = getattr(self.experiment.resource_manager, "executor", None)
        threads = list(getattr(executor, "_threads", ()))
        deadline = time.monotonic() + self.grace_seconds
        while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
            if self._hurry.wait(0.05):
                break
        return [thread.name for thread in threads if thread.is_alive()]

    def _cancel_leftover_jobs(self):
        """End as cancelled every job of the experiment still recorded RUNNING.

        Only Auptimizer's races leave one (a job recorded by job_started whose thread
        never ran, or a retry during a stop); no job outlives its run.
        """
        history = self._try("read the jobs", self.connector.get_all_history, self.eid) or []
        for jid, *_, status, _config in history:
            if status == "RUNNING":
                logger.warning("job %s was still recorded RUNNING: ended as cancelled", jid)
                self._try(f"end job {jid}", self.connector.end_job_attempt, jid)
                self._try(f"end job {jid}", self.connector.end_job, jid, None, None)

    def _close(self):
        with contextlib.suppress(Exception):
            self.connector.close()

    def _try(self, what, call, *args):
        # A stop must reach its end (resources freed, connector closed) even when one
        # step fails, e.g. because the experiment was deleted from the dashboard.
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - reported, and the stop goes on
            logger.error("could not %s: %s", what, exc)
            return None
