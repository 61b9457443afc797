"""In the browser: navigation to the learning curves drawn, in headless Chromium.

A real server (manage.py runserver, as `make run` serves) on the big experiments'
database; Playwright drives Debian's Chromium; the time is the Performance API mark
that charts.js sets when uPlot first draws the curves, measured from navigation start.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def curves_drawn(env, username, password, eids, rounds):
    """{eid: [milliseconds from navigation start to curves drawn, ...]}, interleaved."""
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
        timings = {eid: [] for eid in eids}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            for round_number in range(rounds + 1):  # the first round warms the caches
                for eid in eids:
                    page = context.new_page()
                    page.goto(f"{base}/experiments/{eid}/")
                    page.wait_for_function(
                        "performance.getEntriesByName('aupsite:curves-drawn').length > 0", timeout=60_000
                    )
                    drawn = page.evaluate("performance.getEntriesByName('aupsite:curves-drawn')[0].startTime")
                    if round_number:
                        timings[eid].append(drawn)
                    page.close()
            browser.close()
        return timings
    finally:
        server.terminate()
        server.wait(timeout=30)
