"""A simulated tuning experiment, written through DjangoConnector as a real executor does.

`make run` runs it beside the server (manage.py aup_demo --if-empty) so that a newcomer
sees the dashboard move within seconds, and keeps it live: DemoLoop starts a new search
a little after each one ends, for as long as the server runs. The end-to-end tests use
DemoExecutor to write results while a page is open. Nothing here is special to the
dashboard: it only calls the connector's public interface, from several threads, like
Auptimizer's executor.

The simulation: a random search over a small network's learning rate, batch size,
dropout and depth. Each job trains for a number of epochs; its validation accuracy
follows a saturating curve with noise whose ceiling and speed depend on the
hyperparameters, and its loss falls accordingly (both recorded as labeled results, the
accuracy also as the intermediate score). A few things go wrong, as they do: one job
crashes on its first attempt and is retried on another resource, one diverges (NaN,
then it fails), one is stopped early.
"""

import math
import random
import re
import threading
import time

from django.db import connections

from tracking.connector import DjangoConnector
from tracking.models import ACTIVE_EXPERIMENT_STATUSES, Experiment, Job, Resource

# Every demo experiment's name starts so, and its configuration carries DEMO_MARK: the
# name is what a person recognises in the list, the mark what no executor writes by
# accident. DemoLoop deletes old demo experiments by both, so a user's experiment that
# happens to be named "demo: ..." is never taken for one.
DEMO_PREFIX = "demo: "
DEMO_NAME = f"{DEMO_PREFIX}random search (simulated)"
DEMO_MARK = "aupsite_demo"
DEMO_RESOURCE_NAME = "demo"
LABELS = ["accuracy", "loss"]

# The live demo (DemoLoop): how long it waits after a search ends before the next one
# starts (time to see it end), and how many of its owner's demo experiments it keeps,
# the live one included.
DEMO_PAUSE_SECONDS = 10
DEMO_KEEP = 5


# Notes and tags (issue 13, item 7) the demo gives each of its searches.
DEMO_TAGS = ["demo", "random search"]
DEMO_NOTES = """A **simulated** random search, written by `tracking/demo.py` through the connector.

- the learning rate matters most (best near 0.01); dropout and the batch size matter less
- one job crashes and is retried on another resource; one diverges (NaN); one stops early

Edit these notes, or the tags above, as its owner: Markdown, shown sanitised."""


def demo_config(jobs, name=DEMO_NAME):
    return {
        DEMO_MARK: True,
        "name": name,
        "proposer": "random",
        "target": "max",
        "n_samples": jobs,
        "n_parallel": 4,
        "script": "tracking/demo.py (simulated training)",
        "parameter_config": [
            {"name": "lr", "range": [1e-4, 0.3], "type": "float", "log": True},
            {"name": "batch_size", "range": [32, 64, 128, 256], "type": "choice"},
            {"name": "dropout", "range": [0.0, 0.6], "type": "float"},
            {"name": "layers", "range": [2, 6], "type": "int"},
        ],
        "resource": "cpu",
        "resource_args": {"multi_res_labels": LABELS},
    }


def sample_config(rng):
    return {
        "lr": round(10 ** rng.uniform(-4, math.log10(0.3)), 6),
        "batch_size": rng.choice([32, 64, 128, 256]),
        "dropout": round(rng.uniform(0.0, 0.6), 3),
        "layers": rng.randint(2, 6),
    }


def simulated_curve(config, steps, rng):
    """[(accuracy, loss)] per epoch: a saturating curve shaped by the hyperparameters."""
    lr = config["lr"]
    # Best near lr 0.01; too small learns slowly, too large plateaus low.
    quality = math.exp(-((math.log10(lr) + 2.0) ** 2) / 1.6)
    ceiling = 0.55 + 0.4 * quality - 0.15 * abs(config["dropout"] - 0.25) + 0.01 * config["layers"]
    ceiling -= 0.02 * math.log2(config["batch_size"] / 64) ** 2
    speed = 0.04 + 0.5 * min(lr * 20, 1.0) * (64 / config["batch_size"]) ** 0.3
    points = []
    for step in range(steps):
        accuracy = ceiling * (1 - math.exp(-speed * (step + 1))) + rng.gauss(0, 0.008)
        accuracy = min(max(accuracy, 0.0), 0.999)
        loss = -math.log(max(accuracy, 1e-3)) * (1 + 0.1 * rng.random()) + 0.05
        points.append((round(accuracy, 5), round(loss, 5)))
    return points


class DemoExecutor:
    """Runs a simulated experiment for `owner` through a DjangoConnector.

    ``start()`` records the experiment and returns its id; ``run()`` runs all jobs,
    `parallel` at a time, each reporting `steps` results `step_delay` seconds apart,
    and ends the experiment; ``stop()`` asks the jobs to end early (the experiment is
    then marked STOPPED). ``run_in_background()`` does both in a daemon thread.
    `stopping` may be an Event shared with others (DemoLoop's).
    """

    def __init__(self, owner, jobs=24, parallel=4, steps=40, step_delay=0.4, seed=0, name=DEMO_NAME,
                 connector=None, stopping=None):
        self.owner = owner
        self.jobs = jobs
        self.parallel = parallel
        self.steps = steps
        self.step_delay = step_delay
        self.rng = random.Random(seed)
        self.name = name
        self.connector = connector or DjangoConnector()
        # Shared with DemoLoop, so that one stop ends the search and the loop alike.
        self.stopping = stopping or threading.Event()
        self.eid = None
        self._next = 0
        self._lock = threading.Lock()
        self.thread = None
        self.errors = []

    # -- set-up -------------------------------------------------------------------------

    def ensure_resources(self):
        """The demo's own CPU slots, one per parallel job and at least two, since the
        crashed job is retried on another one (created once, reused)."""
        have = Resource.objects.filter(type="cpu", name=DEMO_RESOURCE_NAME).count()
        for _ in range(have, max(self.parallel, 2)):
            Resource.objects.create(type="cpu", name=DEMO_RESOURCE_NAME)

    def start(self):
        self.ensure_resources()
        self.eid = self.connector.start_experiment(self.owner, demo_config(self.jobs, self.name))
        # Notes and tags (issue 13, item 7): what a researcher would write about it.
        from tracking import notes

        notes.set_experiment_annotations(self.eid, notes=DEMO_NOTES, tags=DEMO_TAGS)
        return self.eid

    # -- running ------------------------------------------------------------------------

    def _claim(self):
        with self._lock:
            if self._next >= self.jobs or self.stopping.is_set():
                return None
            index = self._next
            self._next += 1
            return index, sample_config(self.rng), random.Random(self.rng.random())

    def _take_resource(self, avoid=()):
        while not self.stopping.is_set():
            for rid in self.connector.get_available_resource(self.owner, "cpu", list(avoid) or None):
                if rid not in avoid and self.connector.take_available_resource(rid):
                    return rid
            time.sleep(0.05)
        return None

    def _wait(self, seconds):
        return self.stopping.wait(seconds) if seconds else self.stopping.is_set()

    def run_job(self, index, config, rng):
        c, eid = self.connector, self.eid
        rid = self._take_resource()
        if rid is None:
            return
        jid = c.start_job(eid, rid, config)
        curve = simulated_curve(config, self.steps, rng)
        if index == 2:
            # A crash on the first attempt (as an out-of-memory would), retried on
            # another resource: the retry is visible as a second attempt.
            for accuracy, loss in curve[: max(2, self.steps // 8)]:
                irid = c.save_intermediate_result(jid, accuracy)
                c.save_multiple_results(jid, irid, eid, LABELS, [accuracy, loss])
                if self._wait(self.step_delay):
                    break
            # A person reads the job by its number within the experiment (its page's title).
            number = Job.objects.values_list("number", flat=True).get(pk=jid)
            c.log_error_message(eid, f"job {number}: worker crashed (simulated out-of-memory on cpu #{rid}); retried")
            c.job_failed(rid, jid)
            retry_rid = self._take_resource(avoid={rid})
            if retry_rid is None:  # stopped while waiting for a resource: cancelled
                c.end_job(jid, None, None)
                return
            c.job_retry(retry_rid, jid)
            rid = retry_rid
        diverge_at = self.steps // 3 if index == 5 else None
        stop_at = self.steps // 2 if index == 7 else None
        for step, (accuracy, loss) in enumerate(curve):
            if diverge_at is not None and step >= diverge_at:
                # Training blew up: the executor reports NaN, then gives up.
                irid = c.save_intermediate_result(jid, float("nan"))
                c.save_multiple_results(jid, irid, eid, LABELS, [float("nan"), float("nan")])
                c.set_last_multiple_results(eid, jid, len(LABELS))
                c.job_finished(rid, jid, float("nan"), "FAILED")
                return
            if stop_at is not None and step >= stop_at:
                c.set_last_multiple_results(eid, jid, len(LABELS))
                c.job_finished(rid, jid, "EARLY STOPPED", "EARLY_STOPPED")
                return
            irid = c.save_intermediate_result(jid, accuracy)
            c.save_multiple_results(jid, irid, eid, LABELS, [accuracy, loss])
            if self._wait(self.step_delay):
                break
        c.set_last_multiple_results(eid, jid, len(LABELS))
        if self.stopping.is_set():
            c.job_finished(rid, jid, None, None)  # cancelled, as Auptimizer ends them
        else:
            c.job_finished(rid, jid, curve[-1][0], "FINISHED")

    def _worker(self):
        try:
            while (claim := self._claim()) is not None:
                self.run_job(*claim)
        except Exception as exc:  # noqa: BLE001 - kept for the caller, the demo goes on
            self.errors.append(exc)
        finally:
            connections.close_all()  # this thread's connections only

    def run(self):
        if self.eid is None:
            self.start()
        workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.parallel)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        try:
            self.connector.end_experiment(self.eid, "STOPPED" if self.stopping.is_set() else "FINISHED")
        finally:
            connections.close_all()
        return self.eid

    def run_in_background(self):
        if self.eid is None:
            self.start()
        self.thread = threading.Thread(target=self.run, name="aupsite-demo", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout=30):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)


def demo_experiments():
    """The experiments the demo wrote, anyone's: named DEMO_PREFIX... and marked DEMO_MARK."""
    return Experiment.objects.filter(name__startswith=DEMO_PREFIX, **{f"config__{DEMO_MARK}": True})


def other_experiments():
    """Every experiment that is not a demo's: someone's real work."""
    return Experiment.objects.exclude(pk__in=demo_experiments().values("pk"))


SEARCH_NAME = re.compile(rf"{re.escape(DEMO_PREFIX)}random search (\d+) \(simulated\)")


def search_name(number):
    return f"{DEMO_PREFIX}random search {number} (simulated)"


class DemoLoop:
    """The live demo: one simulated search (a DemoExecutor) after another, until stopped.

    Search n is named "demo: random search n (simulated)", n one past the highest
    number among the owner's demo experiments, and seeded `seed + n`: each search
    differs from the last, and a run is reproducible. Before each search the loop deletes
    the owner's ended demo experiments but the newest `keep - 1`, so that with the new
    one at most `keep` remain (an active one, restarted by someone or left RUNNING by a
    killed demo, is never deleted, as the dashboard's Delete refuses it: an executor may
    be writing to it). After each search it
    waits `pause` seconds, or less when stopped.

    With `only_while_demos` it starts no search while the database holds an experiment
    that is not a demo's (the first start of a fresh database: the demo runs; once anyone
    records real work, the dashboard is theirs and the loop ends after its search).
    `searches` bounds the number of searches (None: until `stopping` is set); `on_start`
    is called with each search's DemoExecutor once its experiment exists. The other
    keyword arguments are DemoExecutor's. ``run()`` returns the number of searches run;
    a worker's error ends the loop and is kept in ``errors``.
    """

    def __init__(self, owner, *, searches=None, pause=DEMO_PAUSE_SECONDS, keep=DEMO_KEEP, only_while_demos=False,
                 on_start=None, seed=0, stopping=None, **executor_options):
        self.owner = owner
        self.searches = searches
        self.pause = pause
        self.keep = keep
        self.only_while_demos = only_while_demos
        self.on_start = on_start
        self.seed = seed
        self.stopping = stopping or threading.Event()
        self.executor_options = executor_options
        self.connector = executor_options.pop("connector", None) or DjangoConnector()
        self.errors = []
        self.thread = None

    def owners_demos(self):
        return demo_experiments().filter(owner__username=self.owner)

    def may_start(self):
        return not self.stopping.is_set() and not (self.only_while_demos and other_experiments().exists())

    def next_number(self):
        numbers = [int(match.group(1)) for name in self.owners_demos().values_list("name", flat=True)
                   if (match := SEARCH_NAME.fullmatch(name))]
        return max(numbers, default=0) + 1

    def delete_old(self):
        """Deletes the owner's ended demo experiments but the newest keep - 1."""
        newest_first = self.owners_demos().order_by("-pk").values_list("pk", "status")
        for eid, status in list(newest_first)[self.keep - 1:]:
            if status not in ACTIVE_EXPERIMENT_STATUSES:
                self.connector.delete_experiment(eid)

    def run_search(self):
        number = self.next_number()
        executor = DemoExecutor(self.owner, seed=self.seed + number, name=search_name(number),
                                connector=self.connector, stopping=self.stopping, **self.executor_options)
        executor.start()
        if self.on_start is not None:
            self.on_start(executor)
        executor.run()
        self.errors.extend(executor.errors)

    def run(self):
        done = 0
        try:
            while (self.searches is None or done < self.searches) and self.may_start():
                self.delete_old()
                self.run_search()
                done += 1
                if self.errors or (self.searches is not None and done >= self.searches):
                    break
                if self.pause and self.stopping.wait(self.pause):
                    break
        finally:
            connections.close_all()  # this thread's connections only
        return done

    def run_in_background(self):
        self.thread = threading.Thread(target=self.run, name="aupsite-demo-loop", daemon=True)
        self.thread.start()
        return self.thread
