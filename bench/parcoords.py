"""Parallel coordinates at 10,000 jobs: the data's bytes and server time beside the
10-job answer's, the jobs table under a brush, and navigation to the lines drawn in
headless Chromium (run by bench/run.py, row 8).

The data is parcoords.json as the page first asks it (coloured by the score); the
brushed table is the jobs table's htmx fragment under a brush on a parameter and on the
score, which the server applies in the database. The browser time is the Performance
API mark parcoords.js sets when it has drawn its lines, from navigation start.
"""

from bench.browser import navigation_to_mark
from bench.harness import Row, Sample, fmt_sample, interleaved

BRUSH = "b.lr=0.001..0.05&b.%40score=0.8.."
MARK = "aupsite:parcoords-drawn"


def pages(eid):
    hx_jobs = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "jobs"}
    return {
        "parallel-coordinates data": (f"/experiments/{eid}/parcoords.json?objective=score", {}),
        "jobs table under a brush": (f"/experiments/{eid}/?{BRUSH}", hx_jobs),
    }


def rows(workdir, rounds, eids):
    """Row 8: the parallel coordinates' data and brushed table at the smallest and the
    biggest experiment, side by side, and drawn in Chromium."""
    from bench.big_experiments import PASSWORD, USER, environment
    from bench.workers import Worker

    small, big = min(eids), max(eids)
    env = environment(workdir / "big.sqlite3")
    server = Worker("bench.big_experiments.BigServer", env)
    try:
        asked = {size: pages(eids[size]) for size in (small, big)}
        names = list(asked[small])
        sizes = {(name, size): server.call("measure", *asked[size][name]) for name in names for size in (small, big)}
        samples = interleaved(
            {(name, size): (lambda name=name, size=size: server.call("time", *asked[size][name], True))
             for name in names for size in (small, big)},
            rounds,
        )
    finally:
        server.close()
    data, table = names
    out = []
    kb = sizes[(data, big)][0] / 1024
    out.append(Row(
        "8 parallel coordinates", f"data at {big:,} jobs: bytes", kb, " KB", "< 250 KB", kb < 250,
        f"{sizes[(data, big)][1]} queries; {small:,} jobs {sizes[(data, small)][0] / 1024:,.1f} KB, "
        f"{sizes[(data, small)][1]} queries",
    ))
    for name in names:
        slow, fast = samples[(name, big)], samples[(name, small)]
        out.append(Row(
            "8 parallel coordinates", f"{name}, server time at {big:,} jobs", slow.median, " s", "< 0.25 s",
            slow.median < 0.25,
            f"{big:,} jobs {fmt_sample(slow)}; {small:,} jobs {fmt_sample(fast)} ({slow.median / fast.median:.1f}x)",
        ))
    timings = drawn(env, USER, PASSWORD, [eids[small], eids[big]], rounds)
    fast = Sample("small", [ms / 1000 for ms in timings[eids[small]]])
    slow = Sample("big", [ms / 1000 for ms in timings[eids[big]]])
    out.append(Row(
        "8 parallel coordinates", f"navigation to parallel coordinates drawn, {big:,} jobs", slow.median, " s", "< 1 s",
        slow.median < 1, f"{big:,} jobs {fmt_sample(slow)}; {small:,} jobs {fmt_sample(fast)}",
    ))
    raw = {
        "pages": {f"{name} @ {size}": {**samples[(name, size)].as_dict(), "bytes": sizes[(name, size)][0],
                                       "queries": sizes[(name, size)][1]}
                  for name in names for size in (small, big)},
        "browser": {"big": slow.as_dict(), "small": fast.as_dict()},
    }
    return out, {"parcoords": raw}


def drawn(env, username, password, eids, rounds):
    """{eid: [milliseconds from navigation start to the parallel coordinates drawn, ...]},
    interleaved, on a real server (bench/browser.py)."""
    return navigation_to_mark(env, username, password, eids, rounds, MARK)
