"""make bench: aupsite side by side with what researchers would otherwise use.

    .venv/bin/python -m bench.run [--rows 1,2,3,importance,remote] [--rounds N] [--quick]

Prints one table and writes it, with every measurement, to bench/results/bench.json.
PostgreSQL rows need POSTGRES_URL (make bench starts a throwaway server for them).
"""

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.harness import Row, fmt_sample, fmt_time, interleaved, print_table
from bench.workers import Worker

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


def sqlite_env(path, synchronous="NORMAL"):
    return {"DATABASE_URL": f"sqlite:///{path}", "SQLITE_SYNCHRONOUS": synchronous, "DJANGO_SETTINGS_MODULE": "aupsite.settings"}


def postgres_env(name):
    """A fresh database of that name on the server of POSTGRES_URL."""
    import psycopg

    base = os.environ["POSTGRES_URL"]
    server, _, _ = base.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return {"DATABASE_URL": f"{server}/{name}", "DJANGO_SETTINGS_MODULE": "aupsite.settings"}


def write_path(workdir, rounds, preload):
    """Row 1: one executor's job lifecycle, against Auptimizer's connector."""
    variants = {}
    for synchronous in ("NORMAL", "FULL"):
        variants[f"aupsite {synchronous} fresh"] = Worker(
            "bench.variants.DjangoVariant", sqlite_env(workdir / f"fresh-{synchronous}.sqlite3", synchronous)
        )
        variants[f"aupsite {synchronous} {preload:,} stored"] = Worker(
            "bench.variants.DjangoVariant",
            sqlite_env(workdir / f"big-{synchronous}.sqlite3", synchronous),
            preload_results=preload,
        )
        # The floor: the same 202 commits through plain sqlite3 (see PlainSqliteVariant).
        variants[f"plain sqlite3 {synchronous}"] = Worker(
            "bench.variants.PlainSqliteVariant", path=str(workdir / f"plain-{synchronous}.sqlite3"), synchronous=synchronous
        )
    variants["Auptimizer fresh"] = Worker("bench.variants.AuptimizerVariant", path=str(workdir / "auptimizer-fresh.db"))
    variants[f"Auptimizer {preload:,} stored"] = Worker(
        "bench.variants.AuptimizerVariant", path=str(workdir / "auptimizer-big.db"), preload_results=preload
    )
    try:
        samples = interleaved({name: (lambda w=worker: w.call("lifecycle")) for name, worker in variants.items()}, rounds, shuffle=True)
    finally:
        for worker in variants.values():
            worker.close()

    rows = []
    aup_fresh, aup_big = samples["Auptimizer fresh"], samples[f"Auptimizer {preload:,} stored"]
    for synchronous in ("NORMAL", "FULL"):
        fresh, big = samples[f"aupsite {synchronous} fresh"], samples[f"aupsite {synchronous} {preload:,} stored"]
        floor = samples[f"plain sqlite3 {synchronous}"]
        speedup = aup_fresh.median / fresh.median
        rows.append(Row(
            "1 write path", f"lifecycle vs Auptimizer, fresh db, synchronous={synchronous}", speedup, "x faster",
            ">= 8x", speedup >= 8,
            f"aupsite {fmt_sample(fresh)}; Auptimizer {fmt_sample(aup_fresh)}; floor, plain sqlite3 committing the same "
            f"202 calls: {fmt_sample(floor)}, so at most {aup_fresh.median / floor.median:.1f}x is possible",
        ))
        growth = big.median / fresh.median
        rows.append(Row(
            "1 write path", f"lifecycle with {preload:,} results stored / fresh, synchronous={synchronous}", growth, "x",
            "<= 1.2x", growth <= 1.2,
            f"aupsite {fmt_sample(big)}; Auptimizer grows {aup_big.median / aup_fresh.median:.1f}x ({fmt_sample(aup_big)})",
        ))
    return rows, {"lifecycle": {name: sample.as_dict() for name, sample in samples.items()}}


def single_writer(workdir, rounds):
    """Row 2: save_intermediate_result against the floor for one writer, plain sqlite3."""
    calls = 200
    single = {
        "aupsite save_intermediate_result": Worker("bench.variants.DjangoVariant", sqlite_env(workdir / "single.sqlite3")),
        "plain sqlite3": Worker("bench.variants.PlainSqliteVariant", path=str(workdir / "plain.sqlite3")),
    }
    try:
        floor = interleaved({name: (lambda w=worker: w.call("save_results", calls) / calls) for name, worker in single.items()}, rounds, shuffle=True)
    finally:
        for worker in single.values():
            worker.close()
    ours, plain = floor["aupsite save_intermediate_result"], floor["plain sqlite3"]
    ratio = ours.median / plain.median
    rows = [Row(
        "2 one writer", "save_intermediate_result / plain sqlite3 insert+commit", ratio, "x",
        "<= 8x", ratio <= 8, f"aupsite {fmt_sample(ours)} per call; plain {fmt_sample(plain)} per call",
    )]
    return rows, {"single_writer": {name: sample.as_dict() for name, sample in floor.items()}}


def many_writers(workdir, lifecycles):
    """Row 3: 1, 4 and 16 writer processes on SQLite and PostgreSQL, against Auptimizer."""
    from bench import many_writers as load

    rows, raw = [], {}
    for writers in (1, 4, 16):
        contenders = {
            "aupsite SQLite": lambda: load.run("django", writers, lifecycles, workdir, sqlite_env(workdir / f"writers-{writers}.sqlite3")),
            "Auptimizer": lambda: load.run("auptimizer", writers, lifecycles, workdir),
        }
        if os.environ.get("POSTGRES_URL"):
            contenders["aupsite PostgreSQL"] = lambda: load.run("django", writers, lifecycles, workdir, postgres_env(f"bench_writers_{writers}"))
        outcome = {name: run() for name, run in contenders.items()}
        raw[writers] = outcome
        aup = outcome["Auptimizer"]
        for name in [name for name in outcome if name.startswith("aupsite")]:
            ours = outcome[name]
            clean = ours["errors"] == 0 and ours["lost_rows"] == 0
            ratio = ours["results_per_s"] / aup["results_per_s"] if aup["results_per_s"] else float("inf")
            target = "0 errors, 0 lost" + (", >= 5x Auptimizer" if writers == 16 else "")
            met = clean and (ratio >= 5 if writers == 16 else True)
            rows.append(Row(
                "3 many writers", f"{writers} processes, {name}: results/s vs Auptimizer", ratio, "x",
                target, met,
                f"{ours['results_per_s']:,.0f}/s, {ours['errors']} errors, {ours['lost_rows']} lost; "
                f"Auptimizer {aup['results_per_s']:,.0f}/s, {aup['errors']} errors, {aup['lost_rows']} lost",
            ))
    return rows, {"many_writers": raw}


def big_experiments(workdir, rounds, sizes, steps):
    """Row 4: the dashboard's pages at 10, 1,000 and 10,000 jobs of `steps` steps."""
    from bench.big_experiments import environment

    path = workdir / "big.sqlite3"
    loader = Worker("bench.big_experiments.BigLoader", environment(path))
    started = time.perf_counter()
    try:
        eids = {size: loader.call("load", size, steps, f"bench {size:,} jobs") for size in sizes}
    finally:
        loader.close()
    load_seconds = time.perf_counter() - started
    server = Worker("bench.big_experiments.BigServer", environment(path))
    try:
        pages = {size: server.call("urls", eid) for size, eid in eids.items()}
        names = list(pages[sizes[0]])
        sizes_of = {(name, size): server.call("measure", *pages[size][name]) for name in names for size in sizes}
        # Each page twice: its first open (cache emptied) and as it is served after
        # that (an ended experiment's charts come from the cache).
        samples = interleaved(
            {
                (name, size, cold): (lambda name=name, size=size, cold=cold: server.call("time", *pages[size][name], cold))
                for name in names
                for size in sizes
                for cold in (True, False)
            },
            rounds,
        )
        memory = server.call("peak_memory_mb")
    finally:
        server.close()

    small, big = sizes[0], sizes[-1]
    rows = []
    for name in names:
        for cold, when in ((True, "first open"), (False, "cached")):
            growth = samples[(name, big, cold)].median / samples[(name, small, cold)].median
            detail = "; ".join(
                f"{size:,} jobs {fmt_sample(samples[(name, size, cold)])}"
                + (f", {sizes_of[(name, size)][0] / 1024:,.0f} KB, {sizes_of[(name, size)][1]} queries" if cold else "")
                for size in sizes
            )
            rows.append(Row("4 big experiments", f"{name}, {when}: {big:,} jobs / {small:,} jobs", growth, "x", "<= 2x",
                            growth <= 2, detail))
    curves_kb = sizes_of[("curves data", big)][0] / 1024
    rows.append(Row("4 big experiments", f"curves data at {big:,} jobs x {steps:,} steps", curves_kb, " KB", "< 500 KB",
                    curves_kb < 500, f"{sizes_of[('curves data', big)][1]} queries"))
    rows.append(Row("4 big experiments", "web process peak memory while serving them", memory, " MB", "< 300 MB",
                    memory < 300, f"data loaded in {fmt_time(load_seconds)}"))
    raw = {
        "load_seconds": load_seconds,
        "pages": {
            f"{name} @ {size} {'first open' if cold else 'cached'}": {
                **samples[(name, size, cold)].as_dict(), "bytes": sizes_of[(name, size)][0], "queries": sizes_of[(name, size)][1]
            }
            for name in names for size in sizes for cold in (True, False)
        },
        "peak_memory_mb": memory,
    }
    return rows, {"big_experiments": raw}, eids


def against_optuna(workdir, rounds, trials, steps, eid):
    """Row 5: optuna-dashboard's study endpoint against our experiment page plus curves."""
    from bench.big_experiments import environment
    from bench.optuna_compare import load_study

    path = workdir / "optuna.sqlite3"
    if not path.exists():
        study_id = load_study(path, trials, steps)
    else:
        study_id = 1
    limit, memory_limit_gb = 300, 12
    ours = Worker("bench.big_experiments.BigServer", environment(workdir / "big.sqlite3"))
    pages = ours.call("urls", eid)
    samples = {"optuna": [], "aupsite": []}
    failure, sizes, memory = None, None, None
    try:
        for _ in range(rounds):
            # A fresh optuna-dashboard each round: what opening the study costs it
            # (its in-memory cache would otherwise answer the repeats).
            dashboard = Worker("bench.optuna_compare.OptunaDashboard", path=str(path), memory_limit_gb=memory_limit_gb)
            started = time.perf_counter()
            try:
                seconds, size, status = dashboard.call("study", study_id, timeout=limit)
                memory = max(memory or 0, dashboard.call("peak_memory_mb"))
                if status != "200 OK":
                    failure = (f"optuna-dashboard answered its study endpoint {status} after {seconds:.0f} s, "
                               f"at {memory / 1024:.1f} GB (limit {memory_limit_gb} GB): it cannot load the study")
                    break
            except TimeoutError:
                failure = f"optuna-dashboard did not answer its study endpoint within {limit} s"
                break
            except RuntimeError as exc:  # the worker's own error, MemoryError at the limit
                reason = str(exc).strip().splitlines()[-1]
                failure = (f"optuna-dashboard failed to answer its study endpoint after "
                           f"{time.perf_counter() - started:.0f} s with {memory_limit_gb} GB of memory: {reason}")
                break
            finally:
                dashboard.close()
            sizes = (size, status)
            samples["optuna"].append(seconds)
            samples["aupsite"].append(
                ours.call("time", *pages["experiment page"], True) + ours.call("time", *pages["curves data"], True)
            )
    finally:
        ours.close()
    from bench.harness import Sample

    aupsite = Sample("aupsite", samples["aupsite"])
    if failure:
        # The alternative target: a clear statement of what it cannot load.
        return [Row("5 vs optuna-dashboard", f"open a {trials:,} x {steps:,} study", float("inf"), "x faster",
                    ">= 10x, or what it cannot load", True, failure)], {"optuna": {"failure": failure}}
    optuna = Sample("optuna", samples["optuna"])
    ratio = optuna.median / aupsite.median
    return [Row(
        "5 vs optuna-dashboard", f"open a {trials:,} x {steps:,} study: optuna-dashboard / aupsite (page + curves, first open)",
        ratio, "x faster", ">= 10x", ratio >= 10,
        f"optuna-dashboard {fmt_sample(optuna)}, {sizes[0] / 1e6:,.1f} MB, peak {memory:,.0f} MB; aupsite {fmt_sample(aupsite)}",
    )], {"optuna": {"optuna": optuna.as_dict(), "aupsite": aupsite.as_dict(), "bytes": sizes[0], "peak_memory_mb": memory}}


def in_the_browser(workdir, rounds, eids):
    """Row 6: navigation to the curves drawn, in headless Chromium."""
    from bench.big_experiments import PASSWORD, USER, environment
    from bench.browser import curves_drawn
    from bench.harness import Sample

    small, big = eids[min(eids)], eids[max(eids)]
    timings = curves_drawn(environment(workdir / "big.sqlite3"), USER, PASSWORD, [small, big], rounds)
    fast, slow = Sample("small", [ms / 1000 for ms in timings[small]]), Sample("big", [ms / 1000 for ms in timings[big]])
    return [Row(
        "6 in the browser", f"navigation to curves drawn, {max(eids):,} jobs", slow.median, " s", "< 1.5 s",
        slow.median < 1.5, f"{max(eids):,} jobs {fmt_sample(slow)}; {min(eids):,} jobs {fmt_sample(fast)}",
    )], {"browser": {"big": slow.as_dict(), "small": fast.as_dict()}}


def export_rows(workdir, rounds, eids):
    """Row 7: the CSV export of the big experiments' jobs, streamed (bench/exports.py)."""
    from bench.exports import export_rows as rows

    return rows(workdir, rounds, eids)
# -- parallel coordinates (issue 13)
def parcoords_rows(workdir, rounds, eids):
    """Row 8: parallel coordinates at 10,000 jobs (bench/parcoords.py)."""
    from bench import parcoords

    return parcoords.rows(workdir, rounds, eids)
# -- end parallel coordinates
# -- scale (issue 14, part 4): two gunicorn hosts on one database (bench/scale.py)
def scale_rows(workdir):
    """Row "scale": 16 executors through RestConnector over two hosts, the dashboard polled."""
    from bench import scale

    return scale.rows(workdir, postgres_env)
# -- end scale


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,2,3,4,5,6,7,8,importance,remote,scale",
                        help="comma-separated rows to run (1-8, and named ones: importance, remote, scale)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per timing")
    parser.add_argument("--preload", type=int, default=100_000, help="results already stored for the growth row")
    parser.add_argument("--lifecycles", type=int, default=3, help="job lifecycles per writer process in row 3")
    parser.add_argument("--big-sizes", default="10,1000,10000", help="job counts of the big experiments (rows 4-6)")
    parser.add_argument("--big-steps", type=int, default=1000, help="steps per job of the big experiments")
    parser.add_argument("--keep-work", action="store_true", help="keep bench/work/ and reuse its big experiments (when working on rows 4-6)")
    args = parser.parse_args()
    # Numbered rows, and rows named by their module (issue 13: importance).
    wanted = {int(row) if row.strip().isdigit() else row.strip() for row in args.rows.split(",")}

    workdir = BENCH_DIR / "work"
    if not args.keep_work:
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows, raw = [], {}
    sizes = [int(size) for size in args.big_sizes.split(",")]
    big = {}

    def big_rows():
        more_rows, more_raw, eids = big_experiments(workdir, args.rounds, sizes, args.big_steps)
        big.update(eids)
        return more_rows, more_raw

    def big_eids():
        if not big:  # rows 5 and 6 alone: load the experiments, without row 4's timings
            from bench.big_experiments import environment

            loader = Worker("bench.big_experiments.BigLoader", environment(workdir / "big.sqlite3"))
            try:
                big.update({size: loader.call("load", size, args.big_steps, f"bench {size:,} jobs") for size in sizes})
            finally:
                loader.close()
        return big

    sections = {
        1: lambda: write_path(workdir, args.rounds, args.preload),
        2: lambda: single_writer(workdir, args.rounds),
        3: lambda: many_writers(workdir, args.lifecycles),
        4: big_rows,
        5: lambda: against_optuna(workdir, 3, max(sizes), args.big_steps, big_eids()[max(sizes)]),
        6: lambda: in_the_browser(workdir, args.rounds, big_eids()),
        # -- exports (issue 13, part 6): bench/exports.py, on row 4's experiments
        7: lambda: export_rows(workdir, args.rounds, big_eids()),
        # -- parallel coordinates (issue 13): bench/parcoords.py
        8: lambda: parcoords_rows(workdir, args.rounds, big_eids()),
        # -- end parallel coordinates
    }
    # -- issue 13, part 2: hyperparameter importance (bench/importance.py)
    from bench.importance import importance_rows

    sections["importance"] = lambda: importance_rows(workdir, args.rounds)
    # -- end of issue 13, part 2
    # -- scale (issue 14, part 4): bench/scale.py
    sections["scale"] = lambda: scale_rows(workdir)
    # -- end scale
    # -- issue 14, part 3: remote executors beside MLflow (bench/remote.py)
    from bench.remote import remote_rows

    sections["remote"] = lambda: remote_rows(workdir)
    # -- end of issue 14, part 3
    for number, section in sections.items():
        if number in wanted:
            more_rows, more_raw = section()
            rows += more_rows
            raw.update(more_raw)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"aupsite benchmarks, {when}, {machine}; {fmt_time(time.time() - started)} in all\n")
    print_table(rows, sys.stdout)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(
        {"date": when, "machine": machine, "rows": [row.as_dict() for row in rows], "measurements": raw}, indent=2, default=str
    ))
    print(f"\nwritten to {RESULTS / 'bench.json'}")
    if not args.keep_work:
        shutil.rmtree(workdir, ignore_errors=True)
    # The table is the result, met or not: make bench fails only when a measurement does.
    print(f"{sum(row.met for row in rows)} of {len(rows)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
