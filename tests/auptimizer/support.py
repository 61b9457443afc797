"""Helpers for the Auptimizer interop tests: experiment folders, runs of aup_run and of
Auptimizer itself, and summaries that compare an aupsite experiment with an Auptimizer
database row for row (ids aside: each database numbers its own rows)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.test_connector_concurrency import PROJECT_DIR, database_url
from tracking.interop import schema
from tracking.models import Experiment, IntermediateResult, JobAttempt, MultipleResult, ResultLabel
from tracking.scores import encode_score

FIXTURES = Path(__file__).resolve().parent
RUN_TIMEOUT = 120


def project(folder, *experiment_files):
    """A fresh experiment folder holding the training script and the given experiment files."""
    folder.mkdir(parents=True)
    shutil.copy2(FIXTURES / "train.py", folder / "train.py")
    (folder / "train.py").chmod(0o755)  # Auptimizer runs it directly, as ./train.py
    for name in experiment_files:
        shutil.copy2(FIXTURES / name, folder / name)
    return folder


def run_reference(folder, experiment_file, user, cpu=2):
    """Run the experiment with Auptimizer alone; return the path of its database."""
    result = subprocess.run(
        [sys.executable, str(FIXTURES / "reference_run.py"), experiment_file, "--user", user, "--cpu", str(cpu)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    return folder / ".aup" / "sqlite3.db"


def aup_run_command(experiment_file, *arguments):
    manage = str(PROJECT_DIR / "manage.py")
    return [sys.executable, manage, "aup_run", experiment_file, "--sleep", "0.2", "--poll", "0.2", *arguments]


def aup_run_env():
    return {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "aupsite.settings"}


def aup_run(folder, experiment_file, *arguments, stdin=None):
    """Run manage.py aup_run from the experiment folder, as a researcher does, to its end."""
    return subprocess.run(
        aup_run_command(experiment_file, *arguments),
        cwd=folder,
        env=aup_run_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def start_aup_run(folder, experiment_file, *arguments):
    """Start aup_run as a terminal would: in a process group of its own, which its job
    scripts join, so that os.killpg is a Ctrl-C typed in that terminal."""
    return subprocess.Popen(
        aup_run_command(experiment_file, *arguments),
        cwd=folder,
        env=aup_run_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def score(value):
    """A score as comparable data: its (number, text) columns (NaN == NaN)."""
    return encode_score(value)


def summary(status, jobs, labels):
    """`jobs`: (config, score, status, attempts, [step scores], [[labeled values per step]], [last labeled values]).

    Jobs are keyed by their config (the proposer's draw), which both runs share.
    """
    by_config = {}
    for config, job_score, job_status, attempts, steps, labeled, last in jobs:
        by_config[json.dumps(config, sort_keys=True)] = {
            "score": score(job_score),
            "status": job_status,
            "attempts": attempts,
            "steps": [score(value) for value in steps],
            "labeled": [[score(value) for value in values] for values in labeled],
            "last": [score(value) for value in last],
        }
    finite = [(job["score"][0], config) for config, job in by_config.items() if job["score"][0] is not None]
    best = max(finite) if finite else None
    return {
        "status": status,
        "labels": labels,
        "job_count": len(jobs),
        "attempt_count": sum(job[3] for job in jobs),
        "best": None if best is None else {"config": best[1], "score": best[0]},
        "jobs": by_config,
    }


def auptimizer_summary(path, eid=None):
    """The summary of one experiment of an Auptimizer database (the only one, by default)."""
    connection = sqlite3.connect(path)
    try:
        if eid is None:
            [eid] = [row[0] for row in connection.execute("SELECT eid FROM experiment")]
        status, exp_config = connection.execute("SELECT status, exp_config FROM experiment WHERE eid = ?", (eid,)).fetchone()
        labels = json.loads(exp_config).get("resource_args", {}).get("multi_res_labels", [])
        jobs = []
        for jid, job_score, job_status, job_config in connection.execute(
            "SELECT jid, score, status, job_config FROM job WHERE eid = ? ORDER BY jid", (eid,)
        ).fetchall():
            attempts = connection.execute("SELECT COUNT(*) FROM job_attempt WHERE jid = ?", (jid,)).fetchone()[0]
            steps = connection.execute(
                "SELECT irid, score FROM intermediate_result WHERE jid = ? ORDER BY num", (jid,)
            ).fetchall()
            labeled = [
                [value for (value,) in connection.execute(
                    "SELECT value FROM multiple_result WHERE irid = ? ORDER BY label_order", (irid,)
                )]
                for irid, _ in steps
            ]
            last = [value for (value,) in connection.execute(
                "SELECT value FROM multiple_result WHERE jid = ? AND is_last_result = 1 ORDER BY mrid", (jid,)
            )]
            jobs.append((json.loads(job_config), job_score, job_status, attempts, [s for _, s in steps], labeled, last))
        return summary(status, jobs, labels)
    finally:
        connection.close()


def aupsite_summary(experiment):
    """The same summary of an aupsite experiment."""
    labels = list(ResultLabel.objects.filter(experiment=experiment).values_list("name", flat=True))
    jobs = []
    for job in experiment.jobs.order_by("pk"):
        steps = list(IntermediateResult.objects.filter(job=job).order_by("number"))
        labeled = [
            [result.value_decoded for result in MultipleResult.objects.filter(intermediate_result=step).order_by("label_order")]
            for step in steps
        ]
        last = [result.value_decoded for result in MultipleResult.objects.filter(job=job, is_last=True).order_by("pk")]
        attempts = JobAttempt.objects.filter(job=job).count()
        jobs.append((job.config, job.score_value, job.status, attempts, [step.score_value for step in steps], labeled, last))
    return summary(experiment.status, jobs, labels)


def seconds(moment):
    return schema.to_unix(moment)


def experiment_snapshot(experiment):
    """Everything aup_export writes about an experiment, ids aside, at Auptimizer's
    one-second resolution; attempts name their resource by (type, name)."""
    jobs = []
    for job in experiment.jobs.order_by("pk"):
        steps = list(job.intermediate_results.order_by("number"))
        step_numbers = {step.pk: step.number for step in steps}
        jobs.append(
            {
                "config": job.config,
                "score": score(job.score_value),
                "status": job.status,
                "times": (seconds(job.start_time), seconds(job.end_time)),
                "attempts": [
                    (attempt.number, attempt.resource and (attempt.resource.type, attempt.resource.name),
                     seconds(attempt.start_time), seconds(attempt.end_time))
                    for attempt in job.attempts.order_by("number").select_related("resource")
                ],
                "steps": [(step.number, score(step.score_value), seconds(step.receive_time)) for step in steps],
                "labeled": [
                    (result.label_order, score(result.value_decoded), seconds(result.receive_time), result.is_last,
                     step_numbers.get(result.intermediate_result_id))
                    for result in job.multiple_results.order_by("pk")
                ],
            }
        )
    return {
        "name": experiment.name,
        "owner": experiment.owner.username,
        "status": experiment.status,
        "config": experiment.config,
        "times": (seconds(experiment.start_time), seconds(experiment.end_time)),
        "error_msg": experiment.error_msg,
        "labels": list(experiment.result_labels.values_list("label_order", "name")),
        "jobs": jobs,
    }


def snapshots():
    return [experiment_snapshot(experiment) for experiment in Experiment.objects.order_by("pk")]
