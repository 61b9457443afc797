"""Repair what a crashed executor left behind (see tracking.recovery for the rules).

    python manage.py aup_reset --dry-run              # what would change
    python manage.py aup_reset                        # experiments silent for 60 min
    python manage.py aup_reset --stale-minutes 240    # ... for 4 hours
    python manage.py aup_reset --experiment 12 --experiment 15   # exactly these

Always frees busy resources whose holder has ended. Never touches an experiment that
wrote anything within the stale threshold unless it is named with --experiment.
"""

from django.core.management.base import BaseCommand, CommandError

from tracking.recovery import DEFAULT_STALE_MINUTES, reset


def positive_int(value):
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


positive_int.__name__ = "positive integer"


class Command(BaseCommand):
    help = (
        "End the attempts and running jobs of experiments whose executor is gone, end those experiments "
        "(STOPPED if a stop was requested, FAILED otherwise), and free resources nobody holds any more."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--experiment",
            type=positive_int,
            action="append",
            dest="experiments",
            metavar="EID",
            help="reset this experiment, whatever its last sign of life (repeatable)",
        )
        which.add_argument(
            "--stale-minutes",
            type=positive_int,
            default=DEFAULT_STALE_MINUTES,
            metavar="N",
            help=(
                "reset RUNNING, REQUEST_STOP and STOPPING experiments that wrote nothing for N minutes "
                f"(default {DEFAULT_STALE_MINUTES}); must be longer than your longest job runs without reporting"
            ),
        )
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args, experiments, stale_minutes, dry_run, **options):
        try:
            report = reset(eids=experiments, stale_minutes=stale_minutes, dry_run=dry_run)
        except (LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        for line in report.lines():
            self.stdout.write(line)
