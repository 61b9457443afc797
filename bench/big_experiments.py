"""Big experiments: how fast the dashboard opens an experiment as it grows.

Experiments of 10, 1,000 and 10,000 jobs x 1,000 steps, two labeled results per step,
are written in bulk straight into aupsite's tables (not through the connector: that is
the write-path rows' business). A separate process then serves the pages through
Django's full request handling and measures server time, bytes and queries of each,
and its own peak memory.
"""

import json
import math
import random
import resource
import sqlite3
import time

from bench.variants import setup_django

LABELS = ["accuracy", "loss"]
USER = "bench"
PASSWORD = "bench-only-password"  # of a user in the throwaway benchmark database


def curve(job_index, step, steps):
    """A plausible learning curve: rises towards a job-specific plateau, with noise."""
    plateau = 0.6 + 0.35 * ((job_index * 7919) % 1000) / 1000
    return plateau * (1 - math.exp(-5 * (step + 1) / steps)) + 0.01 * math.sin(step + job_index)


class BigLoader:
    """Writes the big experiments into the database of DATABASE_URL (SQLite only)."""

    def __init__(self):
        setup_django()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)

    def load(self, jobs, steps, name):
        """One experiment of `jobs` jobs x `steps` steps; returns its eid. Bulk SQL:
        tens of millions of rows go in within minutes."""
        from django.contrib.auth import get_user_model
        from django.db import connection

        from tracking.models import Experiment, Resource, ResultLabel

        existing = Experiment.objects.filter(name=name).values_list("pk", flat=True).first()
        if existing is not None:  # a kept database (bench.run --keep-work) already has it
            return existing
        owner = get_user_model().objects.filter(username=USER).first()
        if owner is None:
            # Staff, to see every experiment; the password lets the browser row log in.
            owner = get_user_model().objects.create_user(USER, password=PASSWORD, is_staff=True)
        config = {
            "name": name,
            "proposer": "random",
            "target": "max",
            "n_samples": jobs,
            "script": "train.py",
            "parameter_config": [
                {"name": "lr", "range": [0.0001, 0.1], "type": "float"},
                {"name": "layers", "range": [1, 8], "type": "int"},
            ],
            "resource_args": {"multi_res_labels": LABELS},
        }
        experiment = Experiment.objects.create(owner=owner, name=name, config=config, status="FINISHED", start_time=_now())
        ResultLabel.objects.bulk_create(
            ResultLabel(experiment=experiment, label_order=order, name=label) for order, label in enumerate(LABELS, 1)
        )
        rid = Resource.objects.create(name=f"bench {name}", type="gpu").pk
        stamp = _now().strftime("%Y-%m-%d %H:%M:%S")
        rng = random.Random(jobs)
        path = connection.settings_dict["NAME"]
        # A bulk load into a throwaway file: no WAL (it would hold every page twice
        # until the checkpoint), no fsync. Needs the only open connection, so Django's
        # closes first; the file goes back to WAL, as aupsite runs it, at the end.
        connection.close()
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA journal_mode=DELETE")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("BEGIN")
        first_jid = (raw.execute("SELECT COALESCE(MAX(id), 0) FROM tracking_job").fetchone()[0]) + 1
        raw.executemany(
            "INSERT INTO tracking_job (id, experiment_id, number, config, score, score_text, status, start_time, end_time, notes) "
            "VALUES (?, ?, ?, ?, ?, NULL, 'FINISHED', ?, ?, '')",
            (
                (first_jid + index, experiment.pk, index + 1,
                 json.dumps({"lr": round(10 ** rng.uniform(-4, -1), 6), "layers": rng.randint(1, 8)}),
                 curve(index, steps - 1, steps), stamp, stamp)
                for index in range(jobs)
            ),
        )
        raw.executemany(
            "INSERT INTO tracking_jobattempt (job_id, number, resource_id, start_time, end_time) VALUES (?, 0, ?, ?, ?)",
            ((first_jid + index, rid, stamp, stamp) for index in range(jobs)),
        )
        first_irid = (raw.execute("SELECT COALESCE(MAX(id), 0) FROM tracking_intermediateresult").fetchone()[0]) + 1
        raw.executemany(
            "INSERT INTO tracking_intermediateresult (id, job_id, number, score, score_text, receive_time) "
            "VALUES (?, ?, ?, ?, NULL, ?)",
            (
                (first_irid + index * steps + step, first_jid + index, step, curve(index, step, steps), stamp)
                for index in range(jobs)
                for step in range(steps)
            ),
        )
        raw.executemany(
            "INSERT INTO tracking_multipleresult "
            "(job_id, intermediate_result_id, experiment_id, label_order, value, value_text, receive_time, is_last) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            (
                (first_jid + index, first_irid + index * steps + step, experiment.pk, order,
                 curve(index, step, steps) if order == 1 else 1 - curve(index, step, steps), stamp, step == steps - 1)
                for index in range(jobs)
                for step in range(steps)
                for order in (1, 2)
            ),
        )
        raw.execute("COMMIT")
        raw.execute("ANALYZE")
        raw.execute("PRAGMA journal_mode=WAL")
        raw.close()
        return experiment.pk


def _now():
    from django.utils import timezone

    return timezone.now()


class BigServer:
    """Serves the pages of the big experiments and measures them (a fresh process, so
    its peak memory is the web process's own)."""

    def __init__(self):
        setup_django()
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(get_user_model().objects.get(username=USER))

    def urls(self, eid):
        from tracking.models import Job

        best = Job.objects.filter(experiment_id=eid).order_by("-score").values_list("pk", flat=True).first()
        hx_jobs = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "jobs"}
        pages = {
            "experiment page": (f"/experiments/{eid}/", {}),
            "curves data": (f"/experiments/{eid}/charts.json", {}),
            "jobs table": (f"/experiments/{eid}/?sort=-score&page=2", hx_jobs),
            "job page": (f"/jobs/{best}/", {}),
        }
        if _has_url("tracking:api-experiment-curves"):
            from django.urls import reverse

            # A page of 10 jobs' curves, as many as the smallest experiment has: the
            # answer's size is the client's choice, its cost must not grow with the experiment.
            pages["API curves"] = (reverse("tracking:api-experiment-curves", args=[eid]) + "?page_size=10", {})
        return pages

    def time(self, path, headers, cold=False):
        """Server time of one request through Django's whole stack (middleware,
        view, database, template), in seconds; `cold`: with the cache emptied first,
        as the first open of an ended experiment."""
        if cold:
            from django.core.cache import cache

            cache.clear()
        start = time.perf_counter()
        response = self.client.get(path, **headers)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return elapsed

    def measure(self, path, headers):
        """(bytes, queries) of a first open; kept apart from the timing, since
        recording queries slows them down."""
        from django.core.cache import cache
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        cache.clear()  # the first open's queries
        with CaptureQueriesContext(connection) as queries:
            response = self.client.get(path, **headers)
        return len(response.content), len(queries)

    def peak_memory_mb(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _has_url(name):
    from django.urls import NoReverseMatch, reverse

    try:
        reverse(name, args=[1])
    except NoReverseMatch:
        return False
    return True


def environment(path):
    return {"DATABASE_URL": f"sqlite:///{path}", "DJANGO_SETTINGS_MODULE": "aupsite.settings", "DEBUG": "0"}
