"""Run the live demo (tracking.demo.DemoLoop) in the foreground: one simulated search
after another, until stopped.

    python manage.py aup_demo --if-empty            # what `make run` does, beside the server
    python manage.py aup_demo --owner alice --jobs 40 --step-delay 0.1 --searches 1

The owner defaults to the first superuser (the admin that aup_bootstrap created), so
whoever logs in after `make run` sees it. A new search starts --pause seconds after the
last one ends; the owner's newest --keep demo experiments are kept, older ones deleted
(only the demo's own: tracking.demo.demo_experiments).

With --if-empty the demo runs only while every experiment in the database is a demo's:
on a fresh database it starts, on one that holds anyone's real work it does nothing,
and once someone records an experiment it starts no new search. With --parent PID it
stops when that process ends, so the demo never outlives the server it was started
beside.
"""

import os
import signal
import threading

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tracking.demo import DEMO_KEEP, DEMO_PAUSE_SECONDS, DemoLoop, other_experiments


def watch_parent(pid, stopping):
    """Set `stopping` once process `pid` is gone (checked every second)."""
    while not stopping.wait(1.0):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stopping.set()
        except PermissionError:
            pass  # alive, owned by someone else
        if os.getppid() == 1:  # our parent died and we were re-parented
            stopping.set()


class Command(BaseCommand):
    help = "Run simulated tuning experiments, one after another, that write through DjangoConnector: a live demo."

    def add_arguments(self, parser):
        parser.add_argument("--owner", help="user who owns the experiments (default: the first superuser)")
        parser.add_argument(
            "--if-empty", action="store_true",
            help="run only while every experiment in the database is a demo's (none on a fresh database)",
        )
        parser.add_argument("--searches", type=int, help="stop after this many searches (default: run until stopped)")
        parser.add_argument("--pause", type=float, default=DEMO_PAUSE_SECONDS,
                            help="seconds between the end of a search and the start of the next")
        parser.add_argument("--keep", type=int, default=DEMO_KEEP,
                            help="how many of the owner's demo experiments to keep, the live one included")
        parser.add_argument("--jobs", type=int, default=24)
        parser.add_argument("--parallel", type=int, default=4)
        parser.add_argument("--steps", type=int, default=40)
        parser.add_argument("--step-delay", type=float, default=0.4, help="seconds between two results of a job")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--parent", type=int, help="stop when this process id ends")
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="where the dashboard answers (printed)")

    def handle(self, *args, owner, if_empty, searches, pause, keep, jobs, parallel, steps, step_delay, seed, parent,
               url, **options):
        if jobs < 1 or parallel < 1 or steps < 2 or step_delay < 0:
            raise CommandError("--jobs and --parallel must be 1 or more, --steps 2 or more, --step-delay 0 or more")
        if (searches is not None and searches < 1) or keep < 1 or pause < 0:
            raise CommandError("--searches and --keep must be 1 or more, --pause 0 or more")
        if if_empty and other_experiments().exists():
            self.stdout.write("aup_demo: the database holds its users' experiments; no demo.")
            return
        User = get_user_model()
        if owner is None:
            first = User.objects.filter(is_superuser=True).order_by("pk").first()
            if first is None:
                raise CommandError("no superuser to own the demo: run manage.py aup_bootstrap first, or pass --owner")
            owner = first.get_username()
        elif not User.objects.filter(username=owner).exists():
            raise CommandError(f"--owner {owner!r}: no such user")
        base = url.rstrip("/")

        def announce(executor):
            self.stdout.write(self.style.SUCCESS(
                f"aup_demo: {executor.name!r} (experiment {executor.eid}) is being written, owned by {owner!r}: "
                f"{base}/experiments/{executor.eid}/ (log in as {owner})."
            ))

        loop = DemoLoop(
            owner, searches=searches, pause=pause, keep=keep, only_while_demos=if_empty, on_start=announce,
            seed=seed, jobs=jobs, parallel=parallel, steps=steps, step_delay=step_delay,
        )
        if searches != 1:
            self.stdout.write(
                f"aup_demo: a new search starts {pause:g} s after each one ends; the newest {keep} are kept"
                + (", until someone records an experiment of their own." if if_empty else ".")
            )
        if parent:
            threading.Thread(target=watch_parent, args=(parent, loop.stopping), daemon=True).start()
        # Stopped by the server's end (SIGTERM from make's trap, a closed terminal's
        # SIGHUP, Ctrl-C, or the parent gone), the demo ends its jobs and marks the
        # experiment STOPPED instead of leaving it RUNNING.
        for number in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, lambda *_: loop.stopping.set())
        thread = loop.run_in_background()
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            loop.stopping.set()
            thread.join(30)
        if loop.errors:
            raise CommandError(f"aup_demo: a simulated worker failed: {loop.errors[0]!r}")
        if loop.stopping.is_set():
            self.stdout.write("aup_demo: stopped.")
        elif if_empty and other_experiments().exists():
            self.stdout.write("aup_demo: finished; someone has recorded an experiment, so no new demo search starts.")
        else:
            self.stdout.write("aup_demo: finished.")
