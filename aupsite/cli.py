"""The `aupsite` command: serve the dashboard, and the management commands under names a
researcher can guess.

    aupsite serve [--host 127.0.0.1] [--port 8000] [--import PATH] [--no-demo]
    aupsite run experiment.json --user alice
    aupsite import ~/my-project            # or .aup/sqlite3.db, or an env.ini
    aupsite export out.db
    aupsite reset | token create|list|revoke | setup --user alice --cpu 4
    aupsite manage <any Django command>    # e.g. changepassword admin

`--data-dir PATH` and `--db URL` (before or after the subcommand) choose where the data
lives: they become AUPSITE_DATA_DIR and DATABASE_URL before Django reads its settings.

Every subcommand but `serve` and `manage` is one of tracking's management commands
(aup_run, aup_import, ...): its options are the command's own, parsed by the command's
own parser (so `aupsite run --help` shows them), and the database is migrated first, so
that any subcommand works on a fresh data folder. Bad input stops with one line and a
non-zero exit before anything is written: the command's arguments are checked before
the migration.
"""

import argparse
import configparser
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from aupsite import __version__

PROG = "aupsite"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# How long a stopping server and demo get before they are killed (the demo ends its
# jobs and marks its experiment STOPPED, in at most 30 s: aup_demo).
STOP_SECONDS = 40
# How long the server gets to start listening before `serve` gives up on it.
START_SECONDS = 60

# Subcommand -> (management command, one-line summary, example lines for its --help).
FORWARDED = {
    "run": (
        "aup_run",
        "run an Auptimizer experiment file, live in the dashboard",
        ["aupsite run experiment.json --user alice", "aupsite run experiment.json --user alice --grace 10"],
    ),
    "import": (
        "aup_import",
        "import an Auptimizer database (a .db file, an env.ini, an .aup folder or a project folder)",
        ["aupsite import ~/.aup/sqlite3.db", "aupsite import ~/my-project --user-map alice=ada"],
    ),
    "export": (
        "aup_export",
        "write experiments to an Auptimizer SQLite database",
        ["aupsite export out.db", "aupsite export out.db --experiment 3 7 --schema master --force"],
    ),
    "reset": (
        "aup_reset",
        "repair what a crashed executor left behind",
        ["aupsite reset --dry-run", "aupsite reset --experiment 12"],
    ),
    "token": (
        "aup_token",
        "create, list and revoke API tokens for remote executors",
        [
            "aupsite token create --user alice --name gpu-box-1",
            "aupsite token list",
            "aupsite token revoke 3",
        ],
    ),
    "setup": (
        "aup_setup",
        "create a user and the resources (cpu, gpu, node, aws, passive) jobs run on",
        ["aupsite setup --user alice --cpu 4 --gpu 0,1", "aupsite setup --user alice --password-prompt"],
    ),
}

EPILOG = """\
examples:
  aupsite serve                              the dashboard on http://127.0.0.1:8000/
  aupsite serve --import ~/.aup/sqlite3.db   import an Auptimizer database, then serve it
  aupsite serve --port 8001 --no-demo
  aupsite --data-dir ~/aup-data serve        keep the data in another folder
  aupsite run experiment.json --user alice   run an Auptimizer experiment, live
  aupsite token create --user alice --name gpu-box-1
  aupsite manage changepassword admin

`aupsite COMMAND --help` shows a command's options. --data-dir and --db may also come
after the command.
"""


class UsageError(Exception):
    """Bad input: one line on stderr, exit status 2, nothing written."""


# --- the parser -------------------------------------------------------------------------


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32)


def port_number(value):
    number = int(value)
    if not 1 <= number <= 65535:
        raise ValueError(value)
    return number


port_number.__name__ = "port (1-65535)"


def positive(value):
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


positive.__name__ = "number of at least 1"


def add_data_options(parser, suppress):
    # In the subcommands the default is SUPPRESS, so that an option given before the
    # subcommand is not overwritten by the subcommand's default.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir", metavar="PATH", default=default,
        help="folder for aupsite's data (its SQLite database and secret key); default: $AUPSITE_DATA_DIR, else "
        "$XDG_DATA_HOME/aupsite or ~/.local/share/aupsite (in a checkout: the project folder)",
    )
    parser.add_argument(
        "--db", metavar="URL", default=default,
        help="database URL (sqlite:////abs/path.db or postgres://user:pw@host/name); default: $DATABASE_URL, "
        "else db.sqlite3 in the data folder",
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="aupsite: experiment tracker and live dashboard for hyperparameter tuning "
        "(Auptimizer-compatible).",
        epilog=EPILOG,
        formatter_class=Formatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_data_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="migrate, create the admin on first run, and serve the dashboard",
        description="Serve the dashboard: migrate the database, create the user 'admin' with a random password on "
        "the first run (printed once), run a live demo while the database holds no experiment of its own, and "
        "serve with gunicorn (static files included) until Ctrl-C.",
        epilog="examples:\n  aupsite serve\n  aupsite serve --port 8001\n"
        "  aupsite serve --import ~/my-project            an Auptimizer project folder (its .aup/env.ini)\n"
        "  aupsite serve --import ~/.aup/sqlite3.db --no-demo\n"
        "  ALLOWED_HOSTS=myhost.lan aupsite serve --host 0.0.0.0   reachable from other machines",
        formatter_class=Formatter, allow_abbrev=False,
    )
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    serve.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--import", dest="import_path", metavar="PATH",
        help="first import this Auptimizer database (a .db file, an env.ini, an .aup folder or a project folder); "
        "importing the same one again adds nothing",
    )
    serve.add_argument("--no-demo", action="store_true", help="no live demo, even on an empty database")
    serve.add_argument(
        "--server", choices=("gunicorn", "runserver"), default=default_server(),
        help="gunicorn (default where it runs: POSIX) or Django's runserver without its reloader (default elsewhere)",
    )
    serve.add_argument("--workers", type=positive, default=2, help="gunicorn worker processes (default 2)")
    add_data_options(serve, suppress=True)

    for name, (_, summary, _examples) in FORWARDED.items():
        # No options of its own but the data ones: the rest goes to the management
        # command's parser, --help included.
        sub = commands.add_parser(name, help=summary, add_help=False, allow_abbrev=False)
        add_data_options(sub, suppress=True)

    manage = commands.add_parser(
        "manage", help="any Django management command (changepassword, createsuperuser, ...)",
        add_help=False, allow_abbrev=False,
    )
    add_data_options(manage, suppress=True)
    parser.serve_parser = serve
    return parser


def default_server():
    try:
        import gunicorn.app.base  # noqa: F401 - gunicorn imports fcntl: POSIX only
    except ImportError:
        return "runserver"
    return "gunicorn"


# --- the environment and Django -----------------------------------------------------------


def configure(args, extra_env=None):
    """Put the data options into the environment, then set Django up."""
    if args.data_dir is not None:
        if not args.data_dir.strip():
            raise UsageError("--data-dir is empty; give a folder")
        # Absolute, so that the server and the demo, started from here, name the same
        # folder. The settings create it (private: 0700) when they first write there.
        os.environ["AUPSITE_DATA_DIR"] = str(Path(args.data_dir).expanduser().resolve())
    if args.db is not None:
        os.environ["DATABASE_URL"] = args.db
    os.environ.update(extra_env or {})
    # aupsite's settings, whatever a shell may have set for another Django project.
    os.environ["DJANGO_SETTINGS_MODULE"] = "aupsite.settings"

    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        where = " (from --db)" if args.db is not None and "DATABASE_URL" in str(exc) else ""
        raise UsageError(f"{exc}{where}") from None


def database_description():
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return str(database["NAME"])
    return f"PostgreSQL database {database['NAME']!r} on {database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"


def migrate(announce=False):
    """Bring the database's schema up to date (nothing to do: one query)."""
    from django.core.management import call_command
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        if announce:
            say(f"Preparing the database ({len(plan)} migrations)...")
        call_command("migrate", interactive=False, verbosity=0)


def say(line, stream=None):
    print(line, file=stream or sys.stdout, flush=True)


# Messages of the management commands name them as `manage.py aup_x`: a pip install has
# no manage.py, so they are told in this command's words.
COMMAND_NAMES = {command: name for name, (command, _, _) in FORWARDED.items()}
MANAGE_PY = re.compile(r"(?:\.venv/bin/python )?manage\.py (\w+)")


def in_our_words(text, data_args=""):
    def name(match):
        command = match.group(1)
        if command in COMMAND_NAMES:
            return f"{PROG}{data_args} {COMMAND_NAMES[command]}"
        if command == "aup_bootstrap":
            return f"{PROG}{data_args} serve"
        return f"{PROG}{data_args} manage {command}"

    return MANAGE_PY.sub(name, text)


class Rewriting:
    """A stream that says the management commands' messages in this command's words."""

    def __init__(self, stream, data_args):
        self.stream = stream
        self.data_args = data_args

    def write(self, text):
        return self.stream.write(in_our_words(text, self.data_args))

    def __getattr__(self, name):
        return getattr(self.stream, name)


def data_arguments(args):
    """The data options as they were given, to repeat in a suggested command."""
    parts = ""
    if args.data_dir is not None:
        parts += f" --data-dir {shlex.quote(args.data_dir)}"
    if args.db is not None:
        parts += f" --db {shlex.quote(args.db)}"
    return parts


# --- Auptimizer's databases ---------------------------------------------------------------


def find_auptimizer_database(given):
    """The SQLite file an Auptimizer path means, as Auptimizer finds it (aup.utils's
    load_default_env): a folder holding env.ini (an `.aup` folder) or a project folder
    holding `.aup/env.ini`, whose [Auptimizer] SQLITE_FILE names the database; an env.ini
    itself; or the database file. UsageError when there is none."""
    path = Path(given).expanduser()
    if not path.exists():
        raise UsageError(f"{given}: no such file or folder")
    if path.is_dir():
        for folder in (path, path / ".aup"):
            if (folder / "env.ini").is_file():
                return database_from_env(folder / "env.ini")
        for candidate in (path / "sqlite3.db", path / ".aup" / "sqlite3.db"):
            if candidate.is_file():
                return candidate
        raise UsageError(f"{given} holds no Auptimizer database (no env.ini, .aup/env.ini or sqlite3.db)")
    if path.name == "env.ini":
        return database_from_env(path)
    return path


def database_from_env(env_ini):
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str
    try:
        config.read(env_ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{env_ini} cannot be read as Auptimizer's env.ini ({exc})") from None
    if not config.has_section("Auptimizer"):
        raise UsageError(f"{env_ini} has no [Auptimizer] section: not Auptimizer's env.ini")
    engine = config.get("Auptimizer", "SQL_ENGINE", fallback="sqlite")
    if engine != "sqlite":
        raise UsageError(f"{env_ini}: SQL_ENGINE is {engine!r}; only Auptimizer's SQLite databases can be imported")
    named = config.get("Auptimizer", "SQLITE_FILE", fallback="").strip()
    if not named:
        raise UsageError(f"{env_ini} names no SQLITE_FILE")
    database = Path(named).expanduser()
    if database.is_absolute():
        candidates = [database]
    else:
        # Auptimizer opens it from where it runs, the project folder above `.aup`.
        candidates = [env_ini.parent.parent / database, env_ini.parent / database]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise UsageError(f"{env_ini} names SQLITE_FILE={named}, which does not exist")


# --- the forwarded management commands ----------------------------------------------------


def forwarded_parser(command, name, examples):
    """The management command's own parser, under this command's name and with our
    examples; Django's options that make no sense here are hidden from --help."""
    from django.core.management.base import DjangoHelpFormatter

    class HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
        pass

    command._called_from_command_line = True  # usage errors exit 2 with the usage line
    command.suppressed_base_arguments = {"--version", "--settings", "--pythonpath", "--no-color", "--force-color"}
    parser = command.create_parser(
        PROG, name, formatter_class=HelpFormatter,
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples)
        + "\n\n--data-dir PATH and --db URL choose the database, as for every aupsite command.",
    )
    for action in parser._actions:
        if isinstance(action, argparse._VersionAction):
            action.version = f"{PROG} {__version__}"
        if name == "import" and action.dest == "database":
            action.help = "the Auptimizer database: its file, its env.ini, an .aup folder or a project folder"
    return parser


def run_forwarded(name, args, rest):
    from django.core.management import CommandError, load_command_class
    from django.core.management.base import OutputWrapper
    from django.db import Error as DatabaseError

    command_name, _, examples = FORWARDED[name]
    data_args = data_arguments(args)
    command = load_command_class("tracking", command_name)
    command.stdout = OutputWrapper(Rewriting(sys.stdout, data_args))
    command.stderr = OutputWrapper(Rewriting(sys.stderr, data_args))
    parser = forwarded_parser(command, name, examples)
    options = vars(parser.parse_args(rest))  # exits 2 with the usage on bad options
    positional = options.pop("args", ())
    if name == "import":
        # A folder or an env.ini, as for serve --import.
        options["database"] = str(find_auptimizer_database(options["database"]))
    try:
        migrate()
        command.execute(*positional, **options)
    except CommandError as exc:
        if options.get("traceback"):
            raise
        say(f"{PROG} {name}: error: {in_our_words(str(exc), data_args)}", sys.stderr)
        return exc.returncode
    except DatabaseError as exc:
        say(f"{PROG} {name}: error: the database {database_description()} refused: {exc}", sys.stderr)
        return 1
    return 0


def run_manage(rest):
    from django.core.management import ManagementUtility

    ManagementUtility([f"{PROG} manage", *rest]).execute()
    return 0


# --- serve -----------------------------------------------------------------------------


def is_loopback(host):
    from tracking.management.commands.aup_bootstrap import is_loopback as loopback

    return loopback(host)


def is_wildcard(host):
    return host in ("0.0.0.0", "::", "")


def url_for(host, port):
    shown = "127.0.0.1" if host == "0.0.0.0" else "::1" if host == "::" else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve_environment(args):
    """Settings the serve process and its children need before Django starts."""
    host = args.host
    if is_loopback(host) or is_wildcard(host) or "ALLOWED_HOSTS" in os.environ:
        return {}
    # A browser on another machine names this one as --host did: let Django answer it.
    return {"ALLOWED_HOSTS": ",".join(["127.0.0.1", "localhost", "[::1]", host])}


def check_port(host, port):
    from tracking.management.commands.aup_bootstrap import PORTS_TRIED, listen_problem

    problem = listen_problem(host, port)
    if problem is None:
        return
    if isinstance(problem, str):
        raise UsageError(problem.replace("HOST=", "--host "))
    import errno

    if problem.errno == errno.EADDRINUSE:
        free = next((other for other in range(port + 1, min(port + 1 + PORTS_TRIED, 65536))
                     if listen_problem(host, other) is None), None)
        hint = f"; run {PROG} serve --port {free}" if free else f"; run {PROG} serve --port <another port>"
        raise UsageError(f"port {port} is already in use on {host}{hint}")
    if problem.errno == errno.EADDRNOTAVAIL:
        raise UsageError(f"{host} is not an address of this machine; use --host 127.0.0.1 (or 0.0.0.0 for all)")
    if problem.errno == errno.EACCES:
        raise UsageError(f"port {port} needs root (ports below 1024 do); use --port {DEFAULT_PORT}")
    raise UsageError(f"cannot listen on {host}:{port}: {problem.strerror}")


def ensure_admin():
    """Create `admin` with a random password when no superuser exists; its password, or None.
    (aup_bootstrap does the same for `make run`, with make's wording.)"""
    import secrets

    from django.contrib.auth import get_user_model

    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=password)
    return password


def wants_demo(args):
    from tracking.demo import other_experiments

    return not args.no_demo and not other_experiments().exists()


def child_command(*arguments):
    return [sys.executable, *arguments]


def serve(args):
    from django.core.management import CommandError, call_command
    from django.db import Error as DatabaseError
    from django.db import connections

    data_args = data_arguments(args)
    # Everything that can be refused is refused before the database is touched.
    check_port(args.host, args.port)
    source = find_auptimizer_database(args.import_path) if args.import_path else None
    url = url_for(args.host, args.port)

    say(f"{PROG} {__version__}, database: {database_description()}")
    try:
        migrate(announce=True)
        if source is not None:
            say(f"Importing {source} ...")
            call_command("aup_import", str(source), stdout=Rewriting(sys.stdout, data_args),
                         stderr=Rewriting(sys.stderr, data_args))
        password = ensure_admin()
        demo = wants_demo(args)
    except CommandError as exc:
        say(f"{PROG} serve: error: {in_our_words(str(exc), data_args)}", sys.stderr)
        return exc.returncode
    except DatabaseError as exc:
        say(f"{PROG} serve: error: the database {database_description()} refused: {exc}", sys.stderr)
        return 1
    # The children open their own connections; this process needs none any more.
    connections.close_all()

    if password is not None:
        say(f"Created user 'admin' with password: {password}")
        say(f"It is shown only this once; change it with: {PROG}{data_args} manage changepassword admin")
    else:
        say(f"Log in with your admin account (forgot the password? {PROG}{data_args} manage changepassword <name>).")
    if not is_loopback(args.host):
        allowed = os.environ.get("ALLOWED_HOSTS", "")
        say(
            f"Warning: --host {args.host} lets other machines reach this server, over plain HTTP with local "
            f"settings; browsers must use a name in ALLOWED_HOSTS ({allowed or 'set it: ALLOWED_HOSTS=myhost.lan'}). "
            "For a shared server, see the README's 'Running in production'.",
            sys.stderr,
        )

    if args.server == "gunicorn":
        bind = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
        server_command = child_command(
            "-m", "aupsite.server", "--bind", bind, "--workers", str(args.workers), "--parent", str(os.getpid()),
        )
    else:
        # Without the reloader (it would restart on file changes and fork a second
        # process); WhiteNoise serves the static files, so --insecure is not needed.
        address = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
        server_command = child_command("-m", "django", "runserver", "--noreload", "--skip-checks", address)
    # Each child in a session of its own: a Ctrl-C typed in the terminal reaches this
    # process alone, which stops each child the one way it stops cleanly (SIGTERM:
    # gunicorn's graceful stop; the demo ends its jobs and marks its search STOPPED).
    # Unbuffered, so that their lines come as they happen, between this process's own.
    options = {"start_new_session": os.name == "posix", "env": {**os.environ, "PYTHONUNBUFFERED": "1"}}
    children = {}
    try:
        children["server"] = subprocess.Popen(server_command, **options)
        if demo:
            children["demo"] = subprocess.Popen(child_command(
                "-m", "django", "aup_demo", "--if-empty", "--url", url, "--parent", str(os.getpid()),
            ), **options)
    except BaseException:  # a Ctrl-C this early, or no process could be started
        stop_children(children)
        raise
    return supervise(children, args.host, args.port, url)


def listening(host, port):
    target = "127.0.0.1" if host == "0.0.0.0" else "::1" if host == "::" else host
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False


def supervise(children, host, port, url):
    """Wait until a signal or the server's end, then stop every child. The exit status:
    0 after Ctrl-C or SIGTERM (the normal way to stop a server), 1 if the server ended by
    itself."""
    stopping = threading.Event()
    handled = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {number: signal.signal(number, lambda *_: stopping.set()) for number in handled}
    server = children["server"]
    started = time.monotonic()
    announced = False
    status = 0
    try:
        while not stopping.is_set():
            if server.poll() is not None:
                say(f"{PROG} serve: error: the server stopped by itself (exit status {server.returncode})",
                    sys.stderr)
                status = 1
                break
            if not announced:
                if listening(host, port):
                    where = "this machine only" if is_loopback(host) else "other machines too"
                    say(f"{PROG} is listening on {url} ({where}); Ctrl-C stops it.")
                    announced = True
                elif time.monotonic() - started > START_SECONDS:
                    say(f"{PROG} serve: error: the server did not start listening on {url}", sys.stderr)
                    status = 1
                    break
            stopping.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        stop_children(children)
        for number, handler in previous.items():
            signal.signal(number, handler)
    say(f"{PROG}: stopped.")
    return status


def stop_children(children):
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children.values():
        while True:
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
                break
            except subprocess.TimeoutExpired:
                child.kill()
            except KeyboardInterrupt:
                # A second Ctrl-C: no more waiting.
                child.kill()


# --- main ------------------------------------------------------------------------------


def main(argv=None):
    """Run the `aupsite` command; return its exit status (the console script exits with it)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_usage(sys.stderr)
            raise UsageError(f"choose a command ({PROG} --help lists them)")
        if args.command == "serve" and rest:
            parser.serve_parser.error(f"unrecognized arguments: {' '.join(rest)}")
        configure(args, serve_environment(args) if args.command == "serve" else None)
        if args.command == "serve":
            return serve(args)
        if args.command == "manage":
            return run_manage(rest)
        return run_forwarded(args.command, args, rest)
    except UsageError as exc:
        say(f"{PROG}: error: {exc}", sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help, --version, a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


if __name__ == "__main__":
    sys.exit(main())
