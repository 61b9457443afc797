"""Export aupsite's experiments as an Auptimizer SQLite database.

    python manage.py aup_export out.db [--experiment EID ...] [--schema 2.0|master] [--force]

The file has Auptimizer's own schema, so Auptimizer's tools read it, and aup_import
reads it back. tracking.interop.exporter says how each value is written.
"""

import sqlite3

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from tracking.interop.exporter import ExportFailed, export_database
from tracking.management.commands.aup_import import Progress


def experiment_id(value):
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


experiment_id.__name__ = "experiment id"


class Command(BaseCommand):
    help = "Write aupsite's experiments to an Auptimizer-compatible SQLite database."

    def add_arguments(self, parser):
        parser.add_argument("output", help="the database file to write")
        parser.add_argument(
            "--experiment", type=experiment_id, nargs="+", action="extend", default=[], metavar="EID",
            help="export only these experiments (default: all)",
        )
        parser.add_argument(
            "--schema", choices=("2.0", "master"), default="2.0",
            help="2.0: Auptimizer 2.0 on PyPI, the name in the config (default); "
            "master: Auptimizer's master branch, with an experiment.name column",
        )
        parser.add_argument("--force", action="store_true", help="replace the file if it exists")

    def handle(self, *args, output, experiment, schema, force, verbosity, **options):
        progress = Progress(self.stderr, enabled=verbosity >= 1)
        try:
            counts = export_database(
                output, experiment_ids=experiment, with_name=schema == "master", force=force, progress=progress
            )
        except ExportFailed as exc:
            raise CommandError(f"{exc}. Nothing was written.") from None
        except (DatabaseError, OSError, sqlite3.Error) as exc:
            raise CommandError(f"the export failed ({exc}). Nothing was written.") from None
        self.stdout.write(
            f"Wrote {output}: {counts['experiment']} experiment(s), {counts['job']} job(s), "
            f"{counts['job_attempt']} attempt(s), {counts['intermediate_result']} intermediate result(s), "
            f"{counts['multiple_result']} labeled result(s)."
        )
