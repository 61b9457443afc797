"""Exports (issue 13, part 6): the CSV of an experiment's jobs table, streamed.

The big experiments of bench/big_experiments.py (the same database file as row 4),
exported through Django's whole request handling in a fresh process of their own, the
body read chunk by chunk and dropped as a browser saving it would: the time of the
10,000-job export, side by side with the 10-job export and the 10,000-job jobs table
page, and the process's peak memory while it streams (ru_maxrss before the first big
export, after every warm-up, and after all of them).
"""

import resource
import time

from bench.big_experiments import USER, environment
from bench.harness import Row, fmt_sample, interleaved
from bench.variants import setup_django
from bench.workers import Worker

# Targets: 10,000 jobs out in under 2 s (5,000 rows a second at least), and streaming
# that adds at most 50 MB to the web process whatever the number of jobs.
TIME_TARGET_S = 2.0
GROWTH_TARGET_MB = 50


class ExportServer:
    """Serves the exports of the big experiments and measures them (a fresh process, so
    that its peak memory is the exports' own)."""

    def __init__(self):
        setup_django()
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.client = Client(HTTP_HOST="localhost")
        self.client.force_login(get_user_model().objects.get(username=USER))

    def export(self, eid, kind="csv"):
        """(seconds, bytes, rows) of one export, its body read chunk by chunk and dropped."""
        start = time.perf_counter()
        response = self.client.get(f"/experiments/{eid}/jobs.{kind}?sort=-score")
        if response.status_code != 200 or not response.streaming:
            raise RuntimeError(f"export of {eid}: HTTP {response.status_code}, streamed: {response.streaming}")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        return time.perf_counter() - start, size, lines - 1

    def table(self, eid):
        """Seconds of the jobs table's page (its htmx fragment, sorted by score)."""
        start = time.perf_counter()
        response = self.client.get(
            f"/experiments/{eid}/?sort=-score&page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs"
        )
        if response.status_code != 200:
            raise RuntimeError(f"jobs table of {eid}: HTTP {response.status_code}")
        return time.perf_counter() - start

    def peak_memory_mb(self):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_rows(workdir, rounds, eids):
    """The exports rows: `eids` {jobs: eid} of the big experiments (the smallest and the
    largest are measured)."""
    small, big = min(eids), max(eids)
    server = Worker("bench.exports.ExportServer", environment(workdir / "big.sqlite3"))
    try:
        # Warm-up: everything but the big export, so that the memory it adds is its own.
        server.call("export", eids[small])
        server.call("table", eids[big])
        before = server.call("peak_memory_mb")
        _, size, lines = server.call("export", eids[big])
        after_one = server.call("peak_memory_mb")
        samples = interleaved(
            {
                "small": lambda: server.call("export", eids[small])[0],
                "big": lambda: server.call("export", eids[big])[0],
                "table": lambda: server.call("table", eids[big]),
            },
            rounds,
        )
        after_all = server.call("peak_memory_mb")
    finally:
        server.close()
    if lines != big:
        raise RuntimeError(f"the export of {big:,} jobs had {lines:,} rows")
    slow, fast, table = samples["big"], samples["small"], samples["table"]
    growth = after_all - before
    rows = [
        Row(
            "7 exports", f"CSV export of {big:,} jobs (streamed, whole file)", slow.median, " s",
            f"< {TIME_TARGET_S:g} s", slow.median < TIME_TARGET_S,
            f"{big:,} jobs {fmt_sample(slow)}, {size / 1024:,.0f} KB, {big / slow.median:,.0f} rows/s; "
            f"{small:,} jobs {fmt_sample(fast)}; the jobs table page at {big:,} jobs {fmt_sample(table)}",
        ),
        Row(
            "7 exports", f"web process peak memory while streaming {big:,} jobs", after_all, " MB",
            f"< {GROWTH_TARGET_MB} MB added", growth < GROWTH_TARGET_MB,
            f"{before:,.0f} MB before the first big export, {after_one:,.0f} MB after it, "
            f"{after_all:,.0f} MB after {rounds + 1} more: {growth:+,.0f} MB for a {size / 1e6:,.1f} MB file",
        ),
    ]
    raw = {
        "exports": {
            "big": slow.as_dict(), "small": fast.as_dict(), "table": table.as_dict(), "bytes": size,
            "peak_memory_mb": {"before": before, "after_one": after_one, "after_all": after_all},
        }
    }  # fmt: skip
    return rows, raw

