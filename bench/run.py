"""make bench: aupsite side by side with what researchers would otherwise use.

    .venv/bin/python -m bench.run [--rows 1,2,3] [--rounds N] [--quick]

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
    variants["Auptimizer fresh"] = Worker("bench.variants.AuptimizerVariant", path=str(workdir / "auptimizer-fresh.db"))
    variants[f"Auptimizer {preload:,} stored"] = Worker(
        "bench.variants.AuptimizerVariant", path=str(workdir / "auptimizer-big.db"), preload_results=preload
    )
    try:
        samples = interleaved({name: (lambda w=worker: w.call("lifecycle")) for name, worker in variants.items()}, rounds)
    finally:
        for worker in variants.values():
            worker.close()

    rows = []
    aup_fresh, aup_big = samples["Auptimizer fresh"], samples[f"Auptimizer {preload:,} stored"]
    for synchronous in ("NORMAL", "FULL"):
        fresh, big = samples[f"aupsite {synchronous} fresh"], samples[f"aupsite {synchronous} {preload:,} stored"]
        speedup = aup_fresh.median / fresh.median
        rows.append(Row(
            "1 write path", f"lifecycle vs Auptimizer, fresh db, synchronous={synchronous}", speedup, "x faster",
            ">= 8x", speedup >= 8, f"aupsite {fmt_sample(fresh)}; Auptimizer {fmt_sample(aup_fresh)}",
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
        floor = interleaved({name: (lambda w=worker: w.call("save_results", calls) / calls) for name, worker in single.items()}, rounds)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,2,3", help="comma-separated rows to run (1-6)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per timing")
    parser.add_argument("--preload", type=int, default=100_000, help="results already stored for the growth row")
    parser.add_argument("--lifecycles", type=int, default=3, help="job lifecycles per writer process in row 3")
    args = parser.parse_args()
    wanted = {int(row) for row in args.rows.split(",")}

    workdir = BENCH_DIR / "work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.time()
    rows, raw = [], {}
    sections = {
        1: lambda: write_path(workdir, args.rounds, args.preload),
        2: lambda: single_writer(workdir, args.rounds),
        3: lambda: many_writers(workdir, args.lifecycles),
    }
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
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(row.met for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
