"""The package a researcher installs with pip (issue 16): the wheel and the sdist that
`python -m build` makes, installed into a fresh virtual environment outside the
repository, then `aupsite serve` there, seen in Chromium.

The build is the real one (isolated, the wheel made from the sdist, as pip does with an
sdist), and the virtual environment is empty but for the wheel and what its metadata
asks for from the package index: what a researcher's `pip install` gets.
"""

import email
import html
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import aupsite
from tests.browser import CHROMIUM, chromium

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 300
SERVE_TIMEOUT = 120
# What installs the wheel and its dependencies must not show the build's warnings or the
# machine's own pip configuration (its find-links notes) to the assertions.
PIP_ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def requirement(text):
    """What a requirement means (name, extras, versions), however it is spelt."""
    parsed = Requirement(text)
    return canonicalize_name(parsed.name), frozenset(parsed.extras), parsed.specifier


def requirement_lines(name):
    """The requirements a file lists (comments dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in (PROJECT_DIR / name).read_text().splitlines())
    return [requirement(line) for line in lines if line]


def package_files():
    """Every file of the two packages in the checkout, as the wheel names them."""
    found = set()
    for package in ("aupsite", "tracking"):
        for path in (PROJECT_DIR / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(PROJECT_DIR).as_posix())
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """`python -m build`: the sdist, then the wheel built from it."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(PROJECT_DIR)],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=PIP_ENV,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [wheel] = out.glob(f"aupsite-{aupsite.__version__}-py3-none-any.whl")
    [sdist] = out.glob(f"aupsite-{aupsite.__version__}.tar.gz")
    return wheel, sdist


def pip_install_into_new_venv(folder, *arguments):
    """A fresh virtual environment in `folder` with `pip install *arguments` done: its
    bin folder. This test's pip installs into it (pip --python), which spares the new
    environment a pip of its own (ensurepip takes a while on a busy machine)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "-q", *arguments],
        capture_output=True, text=True, timeout=BUILD_TIMEOUT, env=PIP_ENV,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "bin"


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh virtual environment, outside the repository, with the wheel installed and
    what its metadata asks for (from the package index): the bin folder."""
    wheel, _ = dist
    return pip_install_into_new_venv(tmp_path_factory.mktemp("venv") / "venv", str(wheel))


def test_it_builds_a_wheel_carrying_every_template_static_file_migration_and_module(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"aupsite-{aupsite.__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()

    shipped = {name for name in names if not name.startswith(info)}
    assert shipped == package_files()
    # What the issue names, said outright (package_files() holds them all).
    for expected in [
        "aupsite/templates/base.html",
        "aupsite/static/vendor/htmx-2.0.11.min.js",
        "aupsite/static/vendor/uplot-1.6.32.min.js",
        "aupsite/static/vendor/uplot-1.6.32.min.css",
        "aupsite/static/aupsite/app.css",
        "aupsite/static/aupsite/charts.js",
        "tracking/migrations/0001_initial.py",
        "tracking/management/commands/aup_import.py",
        "tracking/connector.py",
        "tracking/client.py",
    ]:
        assert expected in shipped
    assert not any(name.startswith(("tests/", "bench/")) or name.endswith("manage.py") for name in names)

    assert metadata["Name"] == "aupsite"
    assert metadata["Version"] == aupsite.__version__
    requires = [Requirement(value) for value in metadata.get_all("Requires-Dist")]
    base = [requirement(str(value)) for value in requires if value.marker is None]
    assert base == requirement_lines("requirements.txt")
    assert sorted(metadata.get_all("Provides-Extra")) == ["auptimizer", "postgres"]
    for extra, name in [("auptimizer", "requirements-auptimizer.txt"), ("postgres", "requirements-postgres.txt")]:
        listed = [requirement(str(value).split(";")[0]) for value in requires
                  if value.marker is not None and value.marker.evaluate({"extra": extra})]
        assert listed == requirement_lines(name)
    assert "aupsite = aupsite.cli:main" in entry_points


def test_it_builds_an_sdist_that_holds_what_the_build_reads(dist):
    _, sdist = dist
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in [
        "pyproject.toml",
        "README.md",
        "requirements.txt",
        "requirements-auptimizer.txt",
        "requirements-postgres.txt",
        "aupsite/templates/base.html",
        "aupsite/static/vendor/htmx-2.0.11.min.js",
    ]:
        assert expected in names
    # (The wheel of test_it_builds_a_wheel_... was built from this sdist.)


def test_it_keeps_the_remote_client_importable_with_the_standard_library_alone(dist, tmp_path):
    wheel, _ = dist
    python = pip_install_into_new_venv(tmp_path / "bare", "--no-deps", str(wheel)) / "python"
    script = (
        "import sys, tracking.client, tracking.interface, tracking.scores, aupsite; "
        "from tracking.client import RestConnector; "
        "print(aupsite.__version__, sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'numpy')))"
    )
    found = subprocess.run([str(python), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [aupsite.__version__, "[]"]


def data_folder_of(bin_dir, cwd, **env):
    """Where an installed aupsite would keep its SQLite file, with the given variables."""
    clean = {key: value for key, value in os.environ.items()
             if key not in ("AUPSITE_DATA_DIR", "XDG_DATA_HOME", "DATABASE_URL", "AUPSITE_ENV", "SECRET_KEY")}
    script = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'aupsite.settings'; "
        "from django.conf import settings; print(settings.DATABASES['default']['NAME'])"
    )
    result = subprocess.run([str(bin_dir / "python"), "-c", script], cwd=cwd, env={**clean, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


def test_it_keeps_its_data_outside_site_packages_in_a_per_user_folder(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    default = data_folder_of(installed, tmp_path, HOME=str(home))
    xdg = data_folder_of(installed, tmp_path, HOME=str(home), XDG_DATA_HOME=str(tmp_path / "xdg"))
    named = data_folder_of(installed, tmp_path, HOME=str(home), AUPSITE_DATA_DIR=str(tmp_path / "mine"))
    url = data_folder_of(installed, tmp_path, HOME=str(home), DATABASE_URL=f"sqlite:///{tmp_path / 'given.sqlite3'}")

    assert default == home / ".local" / "share" / "aupsite" / "db.sqlite3"
    assert xdg == tmp_path / "xdg" / "aupsite" / "db.sqlite3"
    assert named == tmp_path / "mine" / "db.sqlite3"
    assert url == tmp_path / "given.sqlite3"
    # Each folder was made on first use, private, with the local secret key inside.
    for folder in (default.parent, xdg.parent, named.parent):
        assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
        assert (folder / ".secret_key").is_file()
    site_packages = next((installed.parent / "lib").glob("python3*/site-packages"))
    assert not list(site_packages.glob("*.sqlite3")) and not (site_packages / ".secret_key").exists()


def test_it_says_its_version_and_how_to_add_the_postgresql_driver(installed, tmp_path):
    version = subprocess.run([str(installed / "aupsite"), "--version"], capture_output=True, text=True, timeout=60)
    # The driver is the extra aupsite[postgres], not installed here.
    refused = subprocess.run(
        [str(installed / "aupsite"), "--db", "postgres://aup@127.0.0.1:9/aupsite", "serve", "--port", str(free_port())],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )

    assert (version.returncode, version.stdout.strip()) == (0, f"aupsite {aupsite.__version__}")
    assert refused.returncode != 0
    assert "no PostgreSQL driver is installed: pip install 'aupsite[postgres]'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_it_says_how_to_add_auptimizer_as_the_packages_extra(installed, tmp_path):
    (tmp_path / "experiment.json").write_text("{}")
    result = subprocess.run(
        [str(installed / "aupsite"), "--data-dir", str(tmp_path / "data"), "run", "experiment.json", "--user", "alice"],
        # Not the suite's own database (DATABASE_URL is postgres:// when it runs on PostgreSQL,
        # and this install has no driver): the data folder's SQLite file.
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"},
    )
    assert result.returncode == 1
    # Not the checkout's `pip install -r requirements-auptimizer.txt`: there is no such file here.
    assert "Auptimizer is not installed. Install it (an optional extra of aupsite) with: pip install 'aupsite[auptimizer]'" in (
        result.stderr)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`aupsite serve ...` in a process group of its own, its output collected."""

    def __init__(self, bin_dir, *arguments, cwd, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(cwd / f"serve-{self.port}.log", "w+")
        clean = {key: value for key, value in os.environ.items()
                 if key not in ("AUPSITE_DATA_DIR", "DATABASE_URL", "AUPSITE_ENV", "SECRET_KEY", "DEBUG")}
        self.process = subprocess.Popen(
            [str(bin_dir / "aupsite"), "serve", "--port", str(self.port), *arguments],
            cwd=cwd, env={**clean, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def wait_until_up(self):
        deadline = time.monotonic() + SERVE_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as response:
                    if response.status == 200:
                        return self.output()
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"aupsite serve did not answer within {SERVE_TIMEOUT} s:\n{self.output()}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def serve(tmp_path):
    started = []

    def start(bin_dir, *arguments, env=None):
        served = Served(bin_dir, *arguments, cwd=tmp_path, env=env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def admin_password(output):
    found = re.search(r"Created user 'admin' with password: (\S+)", output)
    assert found, output
    return found.group(1)


def log_in_and_read_the_list(url, password, expected):
    """Log in as admin in Chromium and read the experiment list until it shows
    `expected` (reloading: the demo may not have written its first experiment yet);
    the list's text and the footer's."""
    with chromium() as browser:
        page = browser.new_page(base_url=url)
        page.set_default_timeout(20_000)
        problems = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto("/accounts/login/")
        # The login page's reminder in the installed command's words, not make run's.
        assert "First run? aupsite serve printed the admin password once. Forgot it: aupsite manage changepassword admin" in (
            " ".join(page.inner_text("main").split()))
        page.fill("#id_username", "admin")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        deadline = time.monotonic() + 60
        while expected not in (text := page.inner_text("main")):
            assert time.monotonic() < deadline, text
            page.wait_for_timeout(1000)
            page.reload()
        # Styles and scripts come from the installed package's static files.
        assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
        assert page.evaluate("typeof htmx") == "object"
        footer = page.inner_text("footer")
        assert problems == []
        return text, footer


def test_it_serves_the_demo_from_a_fresh_install_in_a_new_data_folder(installed, serve, tmp_path):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing"
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()

    served = serve(installed, "--data-dir", str(data), env={"HOME": str(home)})
    output = served.wait_until_up()
    text, footer = log_in_and_read_the_list(served.url, admin_password(output), "demo: random search")

    assert footer.strip() == f"aupsite {aupsite.__version__}"
    assert (data / "db.sqlite3").is_file() and (data / ".secret_key").is_file()
    assert (data.stat().st_mode & 0o777) == 0o700  # made by the settings, private
    assert not (home / ".local").exists()  # the named folder, nothing in the default one


def auptimizer_database(path):
    """A database written by Auptimizer 2.0's own setup and connector (the test
    requirements install it): one user, one experiment with two jobs."""
    script = f"""
import configparser
from tracking.interop.loader import import_auptimizer
import_auptimizer()
from aup.setupdb import sqlite as setupdb
from aup.ET.Connector.SQLiteConnector import SQLiteConnector
config = configparser.ConfigParser()
config["Auptimizer"] = {{"SQLITE_FILE": {str(path)!r}}}
setupdb.create_database(config, ["alice"], 1, "localhost")
connector = SQLiteConnector({str(path)!r})
eid = connector.start_experiment("alice", {{"name": "from auptimizer", "proposer": "random"}})
for number, score in enumerate([0.25, 0.75]):
    [rid] = connector.get_available_resource("alice", "cpu")
    connector.take_available_resource(rid)
    jid = connector.start_job(eid, rid, {{"x": number, "job_id": number}})
    connector.save_intermediate_result(jid, score / 2)
    connector.end_job_attempt(jid)
    connector.end_job(jid, score, "FINISHED")
    connector.free_used_resource(rid)
connector.end_experiment(eid, "FINISHED")
connector.close()
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "aupsite.settings"})
    assert result.returncode == 0, result.stderr
    return path


def test_it_serves_an_auptimizer_database_with_serve_import(installed, serve, tmp_path):
    database = auptimizer_database(tmp_path / "sqlite3.db")

    served = serve(installed, "--data-dir", str(tmp_path / "data"), "--import", str(database))
    output = served.wait_until_up()
    text, _ = log_in_and_read_the_list(served.url, admin_password(output), "from auptimizer")

    assert "alice" in text  # its owner, made by the import
    # The imported database holds real work: no demo beside it.
    assert "demo: random search" not in text


# The pages' suggested commands (aupsite.context_processors.commands), here in the
# checkout's test server, as a checkout and as an installed package would say them.


@pytest.mark.django_db
def test_it_suggests_the_checkouts_commands_in_a_checkout(client, alice):
    client.force_login(alice)
    experiments = client.get("/").content.decode()
    assert ".venv/bin/python manage.py aup_setup --user alice --cpu 2" in experiments
    assert ".venv/bin/python examples/random_search.py --user alice --jobs 12" in experiments


@pytest.mark.django_db
@pytest.mark.parametrize("data_dir_is_default, prefix", [(True, "aupsite"), (False, "aupsite --data-dir '/srv/aup data'")])
def test_it_suggests_the_aupsite_command_when_installed(client, alice, monkeypatch, settings, data_dir_is_default, prefix):
    monkeypatch.setattr(aupsite, "checkout_dir", lambda: None)
    settings.DATA_DIR_IS_DEFAULT = data_dir_is_default
    settings.DATA_DIR = Path("/srv/aup data")

    login = " ".join(client.get("/accounts/login/").content.decode().split())
    client.force_login(alice)
    experiments = html.unescape(client.get("/").content.decode())
    resources = html.unescape(client.get("/resources/").content.decode())

    # The login page, seen by anyone, names no folder.
    assert "<code>aupsite serve</code> printed" in login and "<code>aupsite manage changepassword admin</code>" in login
    assert f"{prefix} setup --user alice --cpu 2" in experiments
    assert f"{prefix} run experiment.json --user alice" in experiments
    assert f"{prefix} setup --user alice --cpu 4 --gpu 0,1" in resources
    assert "manage.py" not in experiments + resources + login and "examples/" not in experiments + resources
