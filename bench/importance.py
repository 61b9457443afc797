"""Hyperparameter importance (issue 13): how long the importance panel takes at 1,000
and 10,000 jobs, computed (the first answer after a job finished) and from the cache
(every poll while nothing finished), side by side with the experiment's status fragment
(the summary, the page's one clock), which is polled as often.

Its own experiments, written in bulk by bench.big_experiments.BigLoader with few steps
(importance reads the jobs' configurations and final values, not their curves), in a
database of their own, served through Django's whole request handling by a separate
process (BigServer).

    .venv/bin/python -m bench.run --rows importance
"""

import time

from bench.big_experiments import BigServer, environment
from bench.harness import Row, Sample, fmt_sample, interleaved
from bench.workers import Worker

SIZES = (1_000, 10_000)
STEPS = 5
# The targets: the first computation at 10,000 jobs, and a cached answer against the
# status fragment of the same experiment.
FIRST_LIMIT_SECONDS = 1.0
CACHED_RATIO = 2.0
PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "importance"}
SUMMARY = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "summary"}


class ImportanceServer(BigServer):
    """BigServer, with the importance panel's requests and the method alone."""

    def panel_urls(self, eid):
        path = f"/experiments/{eid}/"
        return {
            "importance, score": (path, PANEL),
            "importance, label": (path + "?objective=2", PANEL),
            "summary": (path, SUMMARY),
        }

    def method_seconds(self, eid):
        """The method alone (tracking.importance.importance) on rows already read: what
        the first computation spends outside the database."""
        from tracking import importance
        from tracking.models import Experiment

        experiment = Experiment.objects.get(pk=eid)
        rows = experiment.jobs.objective_rows(None, limit=importance.MAX_JOBS)
        start = time.perf_counter()
        importance.importance(rows, experiment.config.get("parameter_config"), experiment.maximize)
        return time.perf_counter() - start


def importance_rows(workdir, rounds):
    """The importance rows of make bench."""
    path = workdir / "importance.sqlite3"
    loader = Worker("bench.big_experiments.BigLoader", environment(path))
    try:
        eids = {size: loader.call("load", size, STEPS, f"importance {size:,} jobs") for size in SIZES}
    finally:
        loader.close()
    server = Worker("bench.importance.ImportanceServer", environment(path))
    try:
        urls = {size: server.call("panel_urls", eid) for size, eid in eids.items()}
        queries = {(name, size): server.call("measure", *urls[size][name])[1] for size in SIZES for name in urls[size]}
        variants = {}
        for size in SIZES:
            for name in ("importance, score", "importance, label"):
                # First computation: the cache emptied before each (BigServer.time), as after a job finished.
                variants[(name, size, "first")] = lambda s=size, n=name: server.call("time", *urls[s][n], True)
                variants[(name, size, "cached")] = lambda s=size, n=name: server.call("time", *urls[s][n], False)
            variants[("summary", size, "cached")] = lambda s=size: server.call("time", *urls[s]["summary"], False)
        # A fixed order: each cached answer follows the first computation that filled its entry.
        samples = interleaved(variants, rounds)
        method = Sample("method", [server.call("method_seconds", eids[max(SIZES)]) for _ in range(rounds)])
    finally:
        server.close()

    rows = []
    for name in ("importance, score", "importance, label"):
        for size in SIZES:
            first = samples[(name, size, "first")]
            detail = f"{fmt_sample(first)}, {queries[(name, size)]} queries"
            if name == "importance, score" and size == max(SIZES):
                detail += f"; the method alone (numpy, no database) {fmt_sample(method)}"
            rows.append(Row("importance", f"{name}: first computation at {size:,} jobs", first.median, " s",
                            f"< {FIRST_LIMIT_SECONDS:g} s", first.median < FIRST_LIMIT_SECONDS, detail))
    for name in ("importance, score", "importance, label"):
        for size in SIZES:
            cached, summary = samples[(name, size, "cached")], samples[("summary", size, "cached")]
            ratio = cached.median / summary.median
            rows.append(Row(
                "importance", f"{name}: cached / status fragment at {size:,} jobs", ratio, "x",
                f"<= {CACHED_RATIO:g}x", ratio <= CACHED_RATIO,
                f"cached {fmt_sample(cached)}; status fragment (summary) {fmt_sample(summary)}",
            ))
    raw = {
        f"{name} @ {size} {when}": {**sample.as_dict(), "queries": queries.get((name, size))}
        for (name, size, when), sample in samples.items()
    }
    raw["method alone @ 10000"] = method.as_dict()
    return rows, {"importance": raw}


def main():  # pragma: no cover - a shortcut for working on these rows alone
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="make bench's importance rows alone")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    sys.argv = [sys.argv[0], "--rows", "importance", "--rounds", str(args.rounds)]
    from bench.run import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
