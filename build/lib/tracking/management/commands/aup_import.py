"""Import an Auptimizer SQLite database (e.g. .aup/sqlite3.db) into aupsite.

    python manage.py aup_import path/to/sqlite3.db [--user-map old=new ...]

Both schema variants (Auptimizer 2.0 on PyPI, and its master branch with an
experiment.name column) are read. The import is all or nothing, and importing the same
file again adds only what is not there yet. tracking.interop.importer says what is kept
and how; the README's "Auptimizer" section sums it up.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseError

from tracking.interop.importer import ImportFailed, import_database


def user_mapping(value):
    old, sep, new = value.partition("=")
    if not sep or not old or not new.strip():
        raise ValueError(value)
    return old, new.strip()


user_mapping.__name__ = "OLD=NEW user mapping"


class Progress:
    """Progress bars on a command's stderr (an OutputWrapper) for the big tables
    (`minimum` rows or more): redrawn in place on a terminal, otherwise a line at most
    every 2 seconds and one when a table is done."""

    def __init__(self, stream, enabled, minimum=5000):
        self.stream = stream
        self.enabled = enabled
        self.minimum = max(minimum, 1)
        self.interactive = enabled and stream.isatty()
        self.last = {}

    def __call__(self, table, done, total):
        if not self.enabled or not total or total < self.minimum:
            return
        now = time.monotonic()
        finished = done >= total
        shown_at, shown = self.last.get(table, (0, None))
        if done == shown or (not finished and now - shown_at < (0.1 if self.interactive else 2)):
            return
        self.last[table] = (now, done)
        width = 30
        filled = width * done // total
        line = f"{table:<20} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.interactive:
            self.stream.write(f"\r{line}" + ("\n" if finished else ""), ending="")
        else:
            self.stream.write(line, ending="\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Import an Auptimizer SQLite database: users, resources, experiments, jobs, attempts and results."

    def add_arguments(self, parser):
        parser.add_argument("database", help="the Auptimizer database file (its env.ini's SQLITE_FILE)")
        parser.add_argument(
            "--user-map",
            type=user_mapping,
            action="append",
            default=[],
            metavar="OLD=NEW",
            help="give user OLD's experiments to aupsite user NEW (repeatable); "
            "users not mapped are matched by name, or created without a usable password",
        )

    def handle(self, *args, database, user_map, verbosity, **options):
        mapping = {}
        for old, new in user_map:
            if old in mapping and mapping[old] != new:
                raise CommandError(f"--user-map: user {old!r} is mapped twice")
            mapping[old] = new
        progress = Progress(self.stderr, enabled=verbosity >= 1)
        try:
            report = import_database(database, user_map=mapping, progress=progress)
        except ImportFailed as exc:
            raise CommandError(f"{exc}. Nothing was imported.") from None
        except DatabaseError as exc:
            raise CommandError(f"aupsite's database refused the import ({exc}). Nothing was imported.") from None
        self.stdout.write(
            f"Imported {report.experiments} experiment(s), {report.jobs} job(s), {report.attempts} attempt(s), "
            f"{report.intermediate_results} intermediate result(s) and {report.multiple_results} labeled result(s)."
        )
        if report.skipped_experiments:
            self.stdout.write(f"Skipped {report.skipped_experiments} experiment(s) imported before.")
        for username in report.users_created:
            self.stdout.write(f"Created user {username!r} (no usable password: an admin sets one).")
        if report.resources_created:
            self.stdout.write(f"Added {report.resources_created} resource(s), out of service (an admin may put them in service).")
        for old, new in report.renamed:
            self.stdout.write(f"Renamed experiment {old!r} to {new!r}: aupsite already had that name.")
        if report.running:
            self.stdout.write(
                f"{report.running} experiment(s) and job(s) were RUNNING in the file and are imported as such; "
                "no executor is attached to them."
            )
