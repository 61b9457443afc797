"""Run an Auptimizer experiment with aupsite as its tracker, so it shows live in the dashboard.

    cd my-project && /path/to/aupsite/.venv/bin/python /path/to/aupsite/manage.py aup_run experiment.json --user alice

The experiment file is Auptimizer's own, used unchanged; as with ``python -m aup``, the
job script and its ``jobs/`` folder are relative to the current folder unless the file
sets ``workingdir``. Jobs run on aupsite's resources of the file's ``resource`` type
(``manage.py aup_setup`` creates them). A stop requested from the dashboard, Ctrl-C or
SIGTERM ends the experiment STOPPED: running jobs are cancelled and their scripts ended,
resources freed. See tracking.interop.runner for what this works around in Auptimizer 2.0.

Auptimizer is an optional extra: .venv/bin/pip install -r requirements-auptimizer.txt
"""

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tracking.interop.loader import AuptimizerMissing, import_auptimizer
from tracking.interop.runner import RESOURCE_TYPES, ExperimentRun, write_env
from tracking.models import Resource

REQUIRED_KEYS = ("name", "script", "resource", "proposer", "target")
LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
STOP_REASONS = {
    "request": "a stop was requested from the dashboard",
    "deleted": "the experiment was deleted from aupsite",
    "SIGINT": "interrupted (Ctrl-C)",
    "SIGTERM": "terminated (SIGTERM)",
}


def seconds(value):
    number = float(value)
    if not 0 < number <= 3600:
        raise ValueError(value)
    return number


seconds.__name__ = "number of seconds"


def load_experiment_file(path):
    """The experiment config from an Auptimizer experiment file, or CommandError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot be read ({exc})") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise CommandError(f"{path} must hold a JSON object (Auptimizer's experiment configuration)")
    return config


def check_experiment(aup, config, path):
    """Refuse, before anything is written, what Auptimizer would only trip over mid-run."""
    missing = [key for key in REQUIRED_KEYS if key not in config]
    if missing:
        raise CommandError(f"{path}: missing {', '.join(repr(key) for key in missing)} (Auptimizer requires them)")
    if not isinstance(config["name"], str) or not config["name"].strip():
        raise CommandError(f"{path}: 'name' must be a non-empty string")
    if config["resource"] not in RESOURCE_TYPES:
        raise CommandError(f"{path}: 'resource' must be one of {', '.join(RESOURCE_TYPES)}, not {config['resource']!r}")
    if config["target"] not in ("max", "min"):
        raise CommandError(f"{path}: 'target' must be 'max' or 'min', not {config['target']!r}")
    n_parallel = config.get("n_parallel", 1)
    if isinstance(n_parallel, bool) or not isinstance(n_parallel, int) or n_parallel < 1:
        raise CommandError(f"{path}: 'n_parallel' must be a whole number of at least 1, not {n_parallel!r}")
    if not isinstance(config["proposer"], str):
        raise CommandError(f"{path}: 'proposer' must be the name of an Auptimizer proposer")
    try:
        aup.Proposer.get_proposer(config["proposer"])
    except ValueError:
        names = ", ".join(aup.Proposer.PROPOSERS)
        raise CommandError(f"{path}: Auptimizer has no proposer {config['proposer']!r}; use one of {names}") from None
    except ImportError as exc:
        raise CommandError(
            f"{path}: Auptimizer's {config['proposer']!r} proposer needs a package that is not installed: {exc}"
        ) from None
    script = config["script"]
    if not isinstance(script, str) or not script.strip():
        raise CommandError(f"{path}: 'script' must be the path of the job script")
    workingdir = Path(os.path.expanduser(str(config.get("workingdir", os.getcwd()))))
    # As Auptimizer's Job: the first word is the script, relative to the working folder.
    executable = workingdir / script.split()[0]
    if not executable.is_file():
        raise CommandError(f"{path}: the job script {executable} does not exist")
    if config["resource"] in ("cpu", "gpu", "passive") and not os.access(executable, os.X_OK):
        raise CommandError(f"{path}: the job script {executable} is not executable (chmod u+x {executable})")


class Command(BaseCommand):
    help = "Run an Auptimizer experiment file with aupsite as its tracker (Auptimizer is an optional extra)."

    def add_arguments(self, parser):
        parser.add_argument("experiment", help="Auptimizer experiment file (JSON), used unchanged")
        parser.add_argument("--user", required=True, help="the aupsite user the experiment belongs to")
        parser.add_argument(
            "--sleep", type=seconds, default=1.0, help="seconds between checks of the running jobs (Auptimizer's --sleep)"
        )
        parser.add_argument(
            "--poll", type=seconds, default=1.0, help="seconds between checks for a stop requested from the dashboard"
        )
        parser.add_argument(
            "--grace", type=seconds, default=5.0, help="on a stop, seconds job scripts get to end after SIGTERM"
        )
        parser.add_argument("--log", choices=LOG_LEVELS, default="info", help="Auptimizer's log level")

    def handle(self, *args, experiment, user, sleep, poll, grace, log, **options):
        try:
            aup = import_auptimizer()
        except AuptimizerMissing as exc:
            raise CommandError(str(exc)) from None
        config = load_experiment_file(experiment)
        check_experiment(aup, config, experiment)
        if not get_user_model().objects.filter(username=user).exists():
            raise CommandError(f"--user {user!r}: no such user (create it with manage.py aup_setup --user {user})")
        resources = list(Resource.objects.order_by("pk").values_list("pk", "type", "name"))
        rtype = config["resource"]
        if not Resource.objects.filter(type=rtype, in_service=True).exists():
            raise CommandError(
                f"aupsite has no {rtype} resource in service for the jobs to run on "
                f"(add some with manage.py aup_setup --user {user} --{rtype} ...)"
            )

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        loggers = [logging.getLogger("aup"), logging.getLogger("tracking.interop")]
        saved = [(each, each.level, each.propagate) for each in loggers]
        for each in loggers:
            each.addHandler(handler)
            each.setLevel(LOG_LEVELS[log])
            each.propagate = False
        try:
            outcome = self._run(aup, config, user, resources, sleep, poll, grace)
        finally:
            for each, level, propagate in saved:
                each.removeHandler(handler)
                each.setLevel(level)
                each.propagate = propagate
        self._report(outcome)

    def _run(self, aup, config, user, resources, sleep, poll, grace):
        from tracking.connector import DjangoConnector

        with tempfile.TemporaryDirectory(prefix="aupsite-aup-") as auppath:
            write_env(auppath, resources)
            connector = DjangoConnector()
            try:
                run = ExperimentRun(
                    aup, config, user, connector, auppath, poll_seconds=poll, sleep_seconds=sleep, grace_seconds=grace
                )
            except Exception as exc:  # noqa: BLE001 - Auptimizer raises KeyError, ValueError, Exception...
                connector.close()
                raise CommandError(f"Auptimizer refused the experiment: {exc}") from None
            self.stdout.write(
                f"Experiment {run.eid} ({run.name}) is running for {user}: "
                f"{config['proposer']} search, {config.get('n_parallel', 1)} job(s) at a time on {config['resource']}."
            )
            self.stdout.flush()
            return run.run()

    def _report(self, outcome):
        best = f"best job {outcome.best[0]}, score {outcome.best[1]}" if outcome.best else "no job has a score"
        title = f"Experiment {outcome.eid} ({outcome.name})"
        if outcome.status == "FINISHED":
            if outcome.error:
                self.stderr.write(f"Warning: {outcome.error}")
            self.stdout.write(self.style.SUCCESS(f"{title} FINISHED: {best}."))
            return
        if outcome.status == "STOPPED":
            message = f"{title} STOPPED, {STOP_REASONS.get(outcome.stopped_by, outcome.stopped_by)}: {best}."
        else:
            detail = f" ({outcome.error})" if outcome.error else ""
            message = f"{title} FAILED{detail}: {best}."
        if outcome.lingering_threads:
            # A job thread that ignores the stop (a remote job that never answers) would
            # keep the interpreter from exiting: everything is recorded, so leave now.
            self.stderr.write(f"{message} Job threads still running: {', '.join(outcome.lingering_threads)}; exiting.")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(outcome.exit_status)
        raise CommandError(message, returncode=outcome.exit_status)
