"""`python -m bench [--large] [--only push,pull,queries,memory,relay]`: every performance
target of issue 6, measured in one run on this machine, printed as one table."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time

from bench.harness import Result, postgres, postgres_version

SIZES = {  # target -> (default size, --large size)
    "push": (50_000, 200_000),
    "pull": (100_000, 1_000_000),
    "queries": (1_000_000, 10_000_000),
    "memory": (1_000_000, 10_000_000),
    "relay": (300, 1000),
    "guard": (300, 1000),
    "pages": (1_000_000, 10_000_000),
    "concurrency": (1000, 1400),  # relay sends at 50 callers; 20× as many pushed reports
    "alerts": (1, 7),  # fault scenarios timed to their notification: the carrier outage; all
}


def machine() -> str:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    with postgres() as server:
        pg = postgres_version(server)
    return (
        f"{os.cpu_count()} CPUs, {total_kb / 1024**2:.0f} GB RAM, {platform.platform()}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}"
    )


def print_table(results: list[Result]) -> None:
    headers = ("target", "measured", "baseline", "ratio", "goal", "result")
    rows = [
        (
            r.target,
            r.value,
            r.baseline,
            "—" if r.ratio is None else f"{r.ratio:.2f}",
            r.goal,
            {True: "PASS", False: "FAIL", None: "info"}[r.passed]
            + (f" ({r.note})" if r.note else ""),
        )
        for r in results
    ]
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    line = " | ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*headers))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--large", action="store_true", help="the sizes the targets name")
    parser.add_argument("--only", default=",".join(SIZES), help="comma-separated targets")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    from bench import (
        alert_latency,
        concurrency,
        dashboard_memory,
        guard,
        pages,
        pull_ingest,
        push_ingest,
        queries,
        relay,
    )

    runners = {
        "push": push_ingest.run,
        "pull": pull_ingest.run,
        "queries": queries.run,
        "memory": dashboard_memory.run,
        "relay": relay.run,
        "guard": guard.run,
        "pages": pages.run,
        "concurrency": concurrency.run,
        "alerts": alert_latency.bench,
    }
    print(machine(), flush=True)
    print(f"command: python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}")
    results: list[Result] = []
    for name in chosen:
        size = SIZES[name][1 if args.large else 0]
        started = time.perf_counter()
        print(f"\n== {name} ({size:,})", flush=True)
        results += runners[name](size)
        print(f"   done in {time.perf_counter() - started:.0f} s", flush=True)
    print()
    print_table(results)
    return 0 if all(r.passed is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
