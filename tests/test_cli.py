"""The `aupsite` command (aupsite/cli.py): help, version, bad input, and `serve` run as a
researcher runs it, in a process of its own against a fresh data folder (SQLite, named
with --db so that the test never touches the project's database)."""

import http.cookiejar
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from aupsite import __version__
from aupsite.cli import (
    FORWARDED,
    UsageError,
    build_parser,
    find_auptimizer_database,
    in_our_words,
    main,
    serve_environment,
    url_for,
)
from tests.auptimizer import support

COMMAND_TIMEOUT = 120
START_TIMEOUT = 90
STOP_TIMEOUT = 60


# --- in-process: the parser ---------------------------------------------------------------


def test_it_prints_its_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"aupsite {__version__}"


def test_it_lists_every_command_with_what_it_does_and_examples(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("serve", "run", "import", "export", "reset", "token", "setup", "manage"):
        assert re.search(rf"^\s+{name}\s+\w", out, re.MULTILINE), name
    assert "examples:" in out and "aupsite serve --import ~/.aup/sqlite3.db" in out


@pytest.mark.parametrize("name", ["serve", *FORWARDED])
def test_it_shows_each_commands_own_options(name, capsys):
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: aupsite {name} ")
    assert "examples:" in out
    # Django's options that mean nothing here are hidden.
    assert "--settings" not in out and "--pythonpath" not in out
    expected = {
        "serve": "--import PATH", "run": "--user USER", "import": "--user-map OLD=NEW", "export": "--schema",
        "reset": "--dry-run", "token": "{create,list,revoke}", "setup": "--cpu CPU",
    }
    if name == "import":
        assert "its env.ini, an .aup folder or a project folder" in " ".join(out.split())
    assert expected[name] in out


def test_it_takes_the_data_options_before_or_after_the_command():
    parser = build_parser()
    args, rest = parser.parse_known_args(["--data-dir", "d", "token", "list", "--db=sqlite:///x.db", "--user", "a"])
    assert (args.command, args.data_dir, args.db, rest) == ("token", "d", "sqlite:///x.db", ["list", "--user", "a"])
    args, rest = parser.parse_known_args(["serve", "--data-dir", "e", "--port", "8001"])
    assert (args.data_dir, args.db, args.port, rest) == ("e", None, 8001, [])


def test_it_refuses_an_unknown_command(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_it_asks_for_a_command(capsys):
    assert main([]) == 2
    assert "aupsite: error: choose a command" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve", "--port", "http"], "aupsite serve: error: argument --port: invalid port (1-65535) value: 'http'"),
        (["serve", "--port", "70000"], "invalid port (1-65535) value: '70000'"),
        (["serve", "--bogus"], "aupsite serve: error: unrecognized arguments: --bogus"),
        (["token", "create", "--name", "x"], "the following arguments are required: --user"),
        (["run"], "aupsite run: error: the following arguments are required: experiment, --user"),
        (["export", "out.db", "--schema", "3.0"], "argument --schema: invalid choice: '3.0'"),
    ],
)
def test_it_refuses_bad_options_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_it_passes_any_django_command_through_manage(capsys):
    assert main(["manage", "changepassword", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: aupsite manage changepassword ")


def test_it_lets_a_browser_elsewhere_name_the_address_it_was_told_to_listen_on(monkeypatch):
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)

    def environment_for(*argv):
        return serve_environment(build_parser().parse_args(["serve", *argv]))

    assert environment_for() == {}
    assert environment_for("--host", "::1") == {}
    assert environment_for("--host", "0.0.0.0") == {}  # any name: the warning asks for ALLOWED_HOSTS
    assert environment_for("--host", "192.168.1.5") == {"ALLOWED_HOSTS": "127.0.0.1,localhost,[::1],192.168.1.5"}
    monkeypatch.setenv("ALLOWED_HOSTS", "myhost.lan")
    assert environment_for("--host", "192.168.1.5") == {}  # what the researcher said stands
    assert [url_for(*where) for where in [("127.0.0.1", 8000), ("0.0.0.0", 80), ("::1", 8001)]] == [
        "http://127.0.0.1:8000/", "http://127.0.0.1:80/", "http://[::1]:8001/",
    ]


def test_it_says_the_management_commands_advice_in_its_own_words():
    assert in_our_words("create it with manage.py aup_setup --user bob") == "create it with aupsite setup --user bob"
    assert in_our_words(".venv/bin/python manage.py changepassword admin", " --data-dir d") == (
        "aupsite --data-dir d manage changepassword admin"
    )


# --- finding an Auptimizer database, as Auptimizer does ----------------------------------


def write_env(folder, sqlite_file, section="Auptimizer"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "env.ini").write_text(f"[{section}]\nSQL_ENGINE = sqlite\nSQLITE_FILE = {sqlite_file}\n")
    return folder / "env.ini"


def test_it_finds_the_database_of_a_project_folder_an_aup_folder_and_an_env_ini(tmp_path):
    project = tmp_path / "project"
    env = write_env(project / ".aup", "./.aup/sqlite3.db")  # relative: to the project folder, where aup runs
    database = project / ".aup" / "sqlite3.db"
    database.write_bytes(b"")
    assert find_auptimizer_database(str(project)) == database.resolve()
    assert find_auptimizer_database(str(project / ".aup")) == database.resolve()
    assert find_auptimizer_database(str(env)) == database.resolve()
    assert find_auptimizer_database(str(database)) == database


def test_it_refuses_a_path_that_names_no_auptimizer_database(tmp_path):
    with pytest.raises(UsageError, match="no such file or folder"):
        find_auptimizer_database(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="holds no Auptimizer database"):
        find_auptimizer_database(str(tmp_path))
    with pytest.raises(UsageError, match="SQLITE_FILE=gone.db, which does not exist"):
        find_auptimizer_database(str(write_env(tmp_path / "a" / ".aup", "gone.db")))
    with pytest.raises(UsageError, match=r"no \[Auptimizer\] section"):
        find_auptimizer_database(str(write_env(tmp_path / "b", "x.db", section="Other")))


# --- in its own process -------------------------------------------------------------------


def aupsite_command(data, *arguments):
    """The command as a researcher types it, with this test's data folder and database."""
    return [sys.executable, "-m", "aupsite", "--data-dir", str(data), "--db", f"sqlite:///{data / 'db.sqlite3'}",
            *arguments]


def environment():
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)  # --db says which
    return env


def aupsite(data, *arguments, cwd=None):
    return subprocess.run(
        aupsite_command(data, *arguments), cwd=cwd or data.parent, env=environment(),
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
    )


def rows(data, sql, database="db.sqlite3"):
    with sqlite3.connect(f"file:{data / database}?mode=ro", uri=True) as connection:
        return connection.execute(sql).fetchall()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Serving:
    """`aupsite serve` in a process group of its own, as in a terminal: `interrupt()` is
    a Ctrl-C typed there (SIGINT to the group), `terminate()` a SIGTERM to it alone."""

    def __init__(self, data, *arguments, port):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.process = subprocess.Popen(
            aupsite_command(data, "serve", "--port", str(port), *arguments), cwd=data.parent, env=environment(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "".join(self.output)
                continue
            self.output.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no {pattern!r} in:\n{''.join(self.output)}")

    def interrupt(self):
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT)

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(STOP_TIMEOUT)

    def rest(self):
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)


@pytest.fixture
def data(tmp_path):
    # Made here: the settings of this branch alone do not read AUPSITE_DATA_DIR yet (the
    # package's part of issue 16 does), so --db names the database inside it.
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def servers():
    started = []
    yield lambda *arguments, **options: started.append(Serving(*arguments, **options)) or started[-1]
    for server in started:
        server.kill()


def processes_mentioning(text):
    """Command lines of this machine's processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in command:
                found.append(command)
    return found


def get(url, opener=None):
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def log_in(url, username, password):
    """Log in through the login form as a browser does; the response's status and where it leads."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    status, _, page = get(url + "accounts/login/", opener)
    assert status == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password})
    request = urllib.request.Request(url + "accounts/login/", data=form.encode(), headers={"Referer": url})
    status, headers, _ = get(request, opener)
    return status, headers.get("Location")


def test_it_serves_the_dashboard_with_its_static_files_and_a_demo_and_stops_with_both(data, servers):
    server = servers(data, port=free_port())
    password = server.wait_for(r"Created user 'admin' with password: (\S+)").group(1)
    server.wait_for(re.escape(f"aupsite is listening on {server.url} (this machine only)"))
    demo = f"aup_demo --if-empty --url {server.url}"
    server.wait_for(r"aup_demo: 'demo: random search 1 \(simulated\)'")

    status, _, page = get(server.url + "accounts/login/")
    assert status == 200 and "<form" in page
    status, headers, body = get(server.url + "static/vendor/htmx-2.0.11.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and "htmx" in body
    assert log_in(server.url, "admin", password) == (302, "/")
    assert log_in(server.url, "admin", "not-" + password)[0] == 200  # the form again, with its error
    assert len(processes_mentioning(demo)) == 1

    assert server.interrupt() == 0
    output = server.rest()
    assert "aup_demo: stopped." in output and output.rstrip().endswith("aupsite: stopped.")
    assert processes_mentioning(demo) == []
    assert processes_mentioning(f"--bind 127.0.0.1:{server.port}") == []
    # The demo ended its search instead of leaving it RUNNING.
    assert rows(data, "SELECT status FROM tracking_experiment") == [("STOPPED",)]

    # The second run: the same admin, no new password, and SIGTERM stops it too.
    again = servers(data, port=free_port())
    again.wait_for(r"Log in with your admin account")
    again.wait_for(r"aupsite is listening on")
    assert get(again.url + "accounts/login/")[0] == 200
    assert again.terminate() == 0
    assert "password:" not in again.rest()
    assert rows(data, "SELECT username FROM auth_user") == [("admin",)]
    assert processes_mentioning(f"--url {again.url}") == []


def test_it_serves_with_djangos_runserver_when_asked(data, servers):
    server = servers(data, "--server", "runserver", "--no-demo", port=free_port())
    server.wait_for(r"aupsite is listening on")
    assert get(server.url + "accounts/login/")[0] == 200
    status, headers, _ = get(server.url + "static/aupsite/app.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert server.terminate() == 0
    assert "aup_demo" not in server.rest()
    assert processes_mentioning(f"runserver --noreload --skip-checks 127.0.0.1:{server.port}") == []


@pytest.fixture(scope="module")
def auptimizer_project(tmp_path_factory):
    """A project folder where Auptimizer itself ran a search: .aup/env.ini and .aup/sqlite3.db."""
    folder = support.project(tmp_path_factory.mktemp("auptimizer") / "project", "experiment.json")
    support.run_reference(folder, "experiment.json", "alice")
    return folder


def test_it_imports_an_auptimizer_project_then_serves_it_and_imports_it_once(data, servers, auptimizer_project):
    expected = rows(auptimizer_project / ".aup", "SELECT COUNT(*) FROM job", "sqlite3.db")[0][0]
    server = servers(data, "--import", str(auptimizer_project), port=free_port())
    server.wait_for(r"Imported 1 experiment\(s\), (\d+) job\(s\)")
    server.wait_for(r"aupsite is listening on")
    assert rows(data, "SELECT COUNT(*) FROM tracking_job") == [(expected,)]
    assert rows(data, "SELECT u.username FROM tracking_experiment e JOIN auth_user u ON u.id = e.owner_id") == [
        ("alice",)
    ]
    assert server.terminate() == 0
    # The database holds someone's experiment: no demo.
    assert "aup_demo" not in server.rest()

    # Again, through `aupsite import` and the env.ini: nothing is added.
    again = aupsite(data, "import", str(auptimizer_project / ".aup" / "env.ini"))
    assert again.returncode == 0, again.stderr
    assert "Imported 0 experiment(s)" in again.stdout and "Skipped 1 experiment(s) imported before." in again.stdout
    assert rows(data, "SELECT COUNT(*) FROM tracking_experiment") == [(1,)]
    assert rows(data, "SELECT COUNT(*) FROM tracking_job") == [(expected,)]


def test_it_serves_nothing_when_the_import_fails(data):
    not_auptimizers = data.parent / "notes.db"
    with sqlite3.connect(not_auptimizers) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    result = aupsite(data, "serve", "--port", str(free_port()), "--import", str(not_auptimizers))
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("aupsite serve: error: ")
    assert errors[0].endswith("Nothing was imported.")
    assert "listening" not in result.stdout and "password" not in result.stdout
    # The database was prepared (its schema), and holds nothing.
    assert rows(data, "SELECT COUNT(*) FROM auth_user") == [(0,)]


def test_it_creates_lists_and_revokes_tokens(data):
    setup = aupsite(data, "setup", "--user", "alice", "--cpu", "2")
    assert setup.returncode == 0, setup.stderr
    assert "aupsite --data-dir" in setup.stdout and "manage changepassword alice" in setup.stdout

    created = aupsite(data, "token", "create", "--user", "alice", "--name", "gpu-box-1")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.splitlines()[1]
    assert secret.startswith("aup_")

    listed = aupsite(data, "token", "list")
    assert listed.returncode == 0
    assert re.search(r"^1\s+alice\s+gpu-box-1\s+aup_\S+\s.*active$", listed.stdout, re.MULTILINE)
    assert secret not in listed.stdout

    revoked = aupsite(data, "token", "revoke", "1")
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "revoked token 1 “gpu-box-1”")
    assert "revoked" in aupsite(data, "token", "list").stdout

    missing = aupsite(data, "token", "revoke", "7")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "aupsite token: error: no token with id 7; nothing was revoked"
    nobody = aupsite(data, "token", "create", "--user", "bob", "--name", "x")
    assert nobody.returncode == 1
    # Its advice names the same database, as it was given.
    assert nobody.stderr.strip() == (
        f"aupsite token: error: no user 'bob'; create it first "
        f"(aupsite --data-dir {data} --db sqlite:///{data}/db.sqlite3 setup --user bob)"
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["import", "missing.db"], "aupsite: error: missing.db: no such file or folder"),
        (["serve", "--import", "missing"], "aupsite: error: missing: no such file or folder"),
        (["--db", "mysql://x/y", "token", "list"], "DATABASE_URL must be sqlite:// or postgres://"),
        (["token", "revoke", "one"], "aupsite token revoke: error: argument ID: invalid int value: 'one'"),
    ],
)
def test_it_refuses_bad_input_with_one_line_and_writes_nothing(tmp_path, arguments, message):
    data = tmp_path / "data"
    data.mkdir()
    result = aupsite(data, *arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data / "db.sqlite3").exists()


def test_it_names_a_free_port_when_its_port_is_taken(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = aupsite(data, "serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2
    assert re.fullmatch(rf"aupsite: error: port {port} is already in use on 127.0.0.1; run aupsite serve --port \d+\n",
                        result.stderr)
    assert not (data / "db.sqlite3").exists()
