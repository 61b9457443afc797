"""Run the simulated demo experiment (tracking.demo) in the foreground.

    python manage.py aup_demo --if-empty            # what `make run` does, beside the server
    python manage.py aup_demo --owner alice --jobs 40 --step-delay 0.1

The owner defaults to the first superuser (the admin that aup_bootstrap created), so
whoever logs in after `make run` sees it. With --if-empty it does nothing when the
database already has an experiment. With --parent PID it stops when that process ends,
so the demo never outlives the server it was started beside.
"""

import os
import signal
import threading

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tracking.demo import DemoExecutor
from tracking.models import Experiment


def watch_parent(pid, executor):
    """Stop the demo once process `pid` is gone (checked every second)."""
    while not executor.stopping.wait(1.0):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            executor.stopping.set()
        except PermissionError:
            pass  # alive, owned by someone else
        if os.getppid() == 1:  # our parent died and we were re-parented
            executor.stopping.set()


class Command(BaseCommand):
    help = "Run a simulated tuning experiment that writes through DjangoConnector, for a live demo."

    def add_arguments(self, parser):
        parser.add_argument("--owner", help="user who owns the experiment (default: the first superuser)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if any experiment exists")
        parser.add_argument("--jobs", type=int, default=24)
        parser.add_argument("--parallel", type=int, default=4)
        parser.add_argument("--steps", type=int, default=40)
        parser.add_argument("--step-delay", type=float, default=0.4, help="seconds between two results of a job")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--parent", type=int, help="stop when this process id ends")
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the dashboard answers (printed)")

    def handle(self, *args, owner, if_empty, jobs, parallel, steps, step_delay, seed, parent, url, **options):
        if jobs < 1 or parallel < 1 or steps < 2 or step_delay < 0:
            raise CommandError("--jobs and --parallel must be 1 or more, --steps 2 or more, --step-delay 0 or more")
        if if_empty and Experiment.objects.exists():
            self.stdout.write("aup_demo: the database has experiments already; no demo.")
            return
        User = get_user_model()
        if owner is None:
            first = User.objects.filter(is_superuser=True).order_by("pk").first()
            if first is None:
                raise CommandError("no superuser to own the demo: run manage.py aup_bootstrap first, or pass --owner")
            owner = first.get_username()
        elif not User.objects.filter(username=owner).exists():
            raise CommandError(f"--owner {owner!r}: no such user")
        executor = DemoExecutor(owner, jobs=jobs, parallel=parallel, steps=steps, step_delay=step_delay, seed=seed)
        eid = executor.start()
        self.stdout.write(
            self.style.SUCCESS(f"aup_demo: experiment {eid} is being written in the background, owned by {owner!r}.")
        )
        self.stdout.write(f"aup_demo: watch it at {url.rstrip('/')}/experiments/{eid}/ (log in as {owner}).")
        if parent:
            threading.Thread(target=watch_parent, args=(parent, executor), daemon=True).start()
        # Stopped by the server's end (SIGTERM from make's trap, a closed terminal's
        # SIGHUP, Ctrl-C, or the parent gone), the demo ends its jobs and marks the
        # experiment STOPPED instead of leaving it RUNNING.
        for number in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, lambda *_: executor.stopping.set())
        thread = executor.run_in_background()
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            executor.stopping.set()
            thread.join(30)
        if executor.errors:
            raise CommandError(f"aup_demo: a simulated worker failed: {executor.errors[0]!r}")
        self.stdout.write(f"aup_demo: experiment {eid} {'stopped' if executor.stopping.is_set() else 'finished'}.")
