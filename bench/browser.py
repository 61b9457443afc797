"""In the browser: navigation to a chart drawn, in headless Chromium.

A real server (manage.py runserver, as `make run` serves) on the big experiments'
database; Playwright drives Debian's Chromium; the time is the Performance API mark
that the page's script sets when it has first drawn its chart (charts.js for the
curves, row 6; parcoords.js for the parallel coordinates, row 8), measured from
navigation start.
"""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
CURVES_MARK = "aupsite:curves-drawn"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def logged_in(env, username, password):
    """(browser context, base URL): a real server on `env`'s database, and a Chromium
    context logged in as `username`; both stopped on leaving."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=PROJECT_DIR, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(f"{base}/accounts/login/")
                page.fill("#id_username", username)
                page.fill("#id_password", password)
                page.click("button[type=submit]")
                page.wait_for_load_state("load")
                page.close()
                yield context, base
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def mark_time(page, mark, timeout=60):
    """The start time (ms from navigation start) of the page's Performance mark `mark`,
    once set. Polled with evaluate of a function: wait_for_function would evaluate a
    string in the page, which its Content-Security-Policy (no unsafe-eval) refuses."""
    deadline = time.monotonic() + timeout
    while True:
        start = page.evaluate(
            "(mark) => { const entry = performance.getEntriesByName(mark)[0]; return entry ? entry.startTime : null; }",
            mark,
        )
        if start is not None:
            return start
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page set no {mark!r} mark within {timeout} s")
        page.wait_for_timeout(20)


def navigation_to_mark(env, username, password, eids, rounds, mark):
    """{eid: [milliseconds from navigation start to the experiment page's `mark`, ...]},
    interleaved; a first round, not counted, warms the caches."""
    timings = {eid: [] for eid in eids}
    with logged_in(env, username, password) as (context, base):
        for round_number in range(rounds + 1):
            for eid in eids:
                page = context.new_page()
                page.goto(f"{base}/experiments/{eid}/")
                drawn = mark_time(page, mark)
                if round_number:
                    timings[eid].append(drawn)
                page.close()
    return timings


def curves_drawn(env, username, password, eids, rounds):
    """{eid: [milliseconds from navigation start to curves drawn, ...]}, interleaved."""
    return navigation_to_mark(env, username, password, eids, rounds, CURVES_MARK)
