"""The first ten minutes (issue 15), walked in a real browser as a newcomer walks them.

`make run` itself serves the test database (README's Quick start command, from its code
block, with its install and migrate steps left to the test run and a free port): the
test reads the admin's password from what it prints, logs in with it, sees the demo
that make run started, opens the API tokens page from the user menu with the keyboard,
issues a token, copies the `export` line from the page, and runs the README's executor
commands (tests/readme.py: its aup_setup line, its tar line, then the remote example
under Debian's python3 with the standard library only) against that server; the
experiment the example records appears on the experiments list.

The demo keeps running beside the server (or ends) at its own pace: every step waits for
a condition, never for a time.
"""

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.readme import code_block, command_lines, remote_executor_script, substitute
from tests.test_connector_concurrency import PROJECT_DIR, database_url
from tests.test_remote_executor_example import pack_client, run_readme_commands
from tracking.models import Experiment

pytestmark = pytest.mark.django_db(transaction=True)

# make run's output (tracking/management/commands/aup_bootstrap.py).
PASSWORD_LINE = re.compile(r"Created user '(?P<user>[^']+)' with password: (?P<password>\S+)")
WAIT = 60  # seconds: the longest any one condition below may take on a loaded machine


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MakeRun:
    """`make run` in its own process group, its output read line by line as it comes."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(
            command, shell=True, cwd=PROJECT_DIR, env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern):
        """The first line (from here on) that matches `pattern`; fails after WAIT."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"make run never printed {pattern.pattern!r}:\n{''.join(self.output)}") from None
            self.output.append(line)
            if match := pattern.search(line):
                return match

    def stop(self):
        # As Ctrl-C in the terminal: the whole group (make, its shell, the demo, the server).
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=WAIT)
        # make may end before the demo has recorded its stop: wait for every process of
        # the group, so that none still holds the database when the test's teardown
        # empties it (on PostgreSQL a TRUNCATE beside a reader deadlocks).
        deadline = time.monotonic() + WAIT
        while self._group_alive():
            if time.monotonic() > deadline:
                os.killpg(self.process.pid, signal.SIGKILL)
                deadline = time.monotonic() + WAIT
            time.sleep(0.1)

    def _group_alive(self):
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def make_run(transactional_db):
    """make run, as the README's Quick start says, on a free port and the test database."""
    # The block's first `make run` line (it may go on to show other ways to run it).
    line = next(line for line in command_lines(code_block("Quick start", "make run")) if line.startswith("make run"))
    host, port = "127.0.0.1", free_port()
    # -o: the test run has installed and migrated already (and must not reach pip).
    command = substitute(line, {"make run": f"make -o install -o migrate run HOST={host} PORT={port}"})
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "aupsite.settings"}
    for variable in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(variable, None)
    server = MakeRun(command, env)
    try:
        server.url = f"http://{host}:{port}"
        found = server.wait_for(PASSWORD_LINE)
        server.username, server.password = found["user"], found["password"]
        deadline = time.monotonic() + WAIT
        while answers(f"{server.url}/accounts/login/") != 200:
            assert server.process.poll() is None, "make run ended:\n" + "".join(server.output)
            assert time.monotonic() < deadline, "make run's server never answered"
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


def reload_until(page, url, locator_of):
    """Open `url` until `locator_of(page)` finds something (the list is not live)."""
    deadline = time.monotonic() + WAIT
    while True:
        page.goto(url)
        found = locator_of(page)
        if found.count():
            return found
        assert time.monotonic() < deadline, f"{url} never showed what was awaited"
        page.wait_for_timeout(500)


def test_it_walks_a_newcomer_from_make_run_to_their_own_remote_experiment(make_run, page, tmp_path):
    # make run printed the admin's password: it logs in.
    page.goto(f"{make_run.url}/accounts/login/")
    page.fill("#id_username", make_run.username)
    page.fill("#id_password", make_run.password)
    page.click("button[type=submit]")
    # (The tests' CSP route fetches each answer whole, redirects followed: the address
    # stays the login page's; what is shown is the experiments list.)
    page.wait_for_selector("main h1:has-text('Experiments')")

    # The demo that make run started is on the list, running, the admin's.
    reload_until(
        page,
        f"{make_run.url}/",
        lambda p: p.locator("table.data tbody tr", has_text=make_run.username).filter(
            has=p.locator(".badge", has_text="running")
        ),
    )

    # The user menu, with the keyboard: open it, and the first entry is API tokens.
    page.focus("details.usermenu summary")
    page.keyboard.press("Enter")
    assert page.locator("details.usermenu").get_attribute("open") is not None
    page.screenshot(path=str(tmp_path / "usermenu.png"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "API tokens"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{make_run.url}/tokens/")
    page.screenshot(path=str(tmp_path / "tokens-empty.png"), full_page=True)

    # A token, and the lines to paste: its Copy button puts the export line on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=make_run.url)
    page.fill("#id_name", "my-laptop")
    page.click("button:has-text('Issue token')")
    page.click("button[data-copy='token-export']")
    page.wait_for_selector("button[data-copy='token-export']:has-text('Copied')")
    export_line = page.evaluate("navigator.clipboard.readText()")
    assert export_line == page.inner_text("#token-export").strip()
    assert re.fullmatch(r"export AUPSITE_TOKEN=aup_[A-Za-z0-9_-]+", export_line)
    assert f'RestConnector("{make_run.url}")' in page.inner_text("#token-python")
    page.screenshot(path=str(tmp_path / "tokens-issued.png"), full_page=True)

    # The README's executor commands: the user and resources, the client packed in the
    # checkout, and the example run elsewhere by a plain python3 with the page's line.
    [setup_line] = command_lines(code_block("Recording experiments from an executor", "aup_setup"))
    setup_command = substitute(setup_line, {".venv/bin/python": shlex.quote(sys.executable)})
    subprocess.run(setup_command, shell=True, cwd=PROJECT_DIR, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url()})
    script = remote_executor_script(pack_client(tmp_path), make_run.url, export_line=export_line)
    result = run_readme_commands(script, tmp_path / "laptop")
    assert result.returncode == 0, result.stdout + result.stderr
    [eid] = re.findall(r"^experiment (\d+) \(remote search\)", result.stdout, re.MULTILINE)

    # Its experiment is on the list, and its page opens.
    row = reload_until(page, f"{make_run.url}/", lambda p: p.locator(f"table.data tbody tr:has(a[href='/experiments/{eid}/'])"))
    assert "remote search" in row.inner_text()
    row.locator(f"a[href='/experiments/{eid}/']").first.click()
    page.wait_for_url(f"{make_run.url}/experiments/{eid}/")
    assert page.locator("#experiment-status").inner_text().strip() == "finished"
    experiment = Experiment.objects.get(pk=eid)
    assert (experiment.owner.username, experiment.status, experiment.jobs.count()) == ("alice", "FINISHED", 6)
    # The token was used, and the page says so.
    page.goto(f"{make_run.url}/tokens/")
    assert "never" not in page.locator("table.tokens tbody tr", has_text="my-laptop").inner_text()
