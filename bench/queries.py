"""Target 3: the Overview's queries over 30 days — under 0.3 s at the large size, and at most
twice their time at 100 k reports — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bench.data import DATA_VERSION, generate
from bench.harness import WORK, Result, median_seconds, postgres
from dashboard import queries
from dashboard.queries import Filters
from ingest.store.engine import make_engine

SMALL = 100_000
GOAL_SECONDS = 0.3
GOAL_GROWTH = 2.0


def overview(engine: Engine, filters: Filters) -> dict[str, float]:
    """Run every query the Overview page (and its sidebar) makes; seconds per query."""
    calls = {
        "filter_options": lambda: queries.filter_options(engine),
        "kpi_comparison": lambda: queries.kpi_comparison(engine, filters),
        "volume_by_outcome": lambda: queries.volume_by_outcome(engine, filters),
        "answer_rate_over_time": lambda: queries.answer_rate_over_time(engine, filters),
        "answer_rate_by carrier": lambda: queries.answer_rate_by(engine, filters, "carrier"),
        "answer_rate_by province": lambda: queries.answer_rate_by(engine, filters, "province"),
        "fees_per_day": lambda: queries.fees_per_day(engine, filters),
    }
    seconds = {}
    for name, call in calls.items():
        started = time.perf_counter()
        call()
        seconds[name] = time.perf_counter() - started
    return seconds


def last_30_days(end: datetime) -> Filters:
    """What the dashboard asks for: 'Last 30 days' ending now, floored to 10 s."""
    end = end.replace(microsecond=0) - timedelta(seconds=end.second % 10)
    return Filters(end - timedelta(days=30), end)


def sqlite_database(reports: int) -> tuple[str, datetime]:
    """A generated SQLite file with `reports` reports, reused while under a day old."""
    path = WORK / f"reports-{reports}.db"
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists():
        made = json.loads(marker.read_text())
        end = datetime.fromisoformat(made["end"])
        if datetime.now(UTC) - end < timedelta(days=1) and made.get("data") == DATA_VERSION:
            return f"sqlite:///{path}", end
    WORK.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    generated = generate(engine, reports)
    engine.dispose()
    made = {"end": generated.end.isoformat(), "seconds": generated.seconds, "data": DATA_VERSION}
    marker.write_text(json.dumps(made))
    return f"sqlite:///{path}", generated.end


def time_overview(url: str, end: datetime) -> tuple[float, dict[str, float]]:
    engine = make_engine(url)
    filters = last_30_days(end)
    breakdown: dict[str, float] = {}

    def run() -> None:
        breakdown.update(overview(engine, filters))

    total = median_seconds(run, repeat=5)
    engine.dispose()
    return total, breakdown


def judge(backend: str, small: float, large: float, size: int) -> list[Result]:
    growth = large / small
    return [
        Result(
            f"3 Overview queries, {backend}, {size:,} reports",
            f"{large * 1000:.0f} ms",
            "—",
            None,
            f"< {GOAL_SECONDS * 1000:.0f} ms",
            large < GOAL_SECONDS,
        ),
        Result(
            f"3 Overview growth, {backend}, {size:,} vs {SMALL:,}",
            f"{large * 1000:.0f} ms",
            f"{small * 1000:.0f} ms",
            growth,
            f"≤ {GOAL_GROWTH:g}×",
            growth <= GOAL_GROWTH,
        ),
    ]


def run(large_size: int) -> list[Result]:
    results = []
    timings = {}
    for size in (SMALL, large_size):
        url, end = sqlite_database(size)
        timings[("sqlite", size)] = time_overview(url, end)
    with postgres() as server:
        if server is not None:
            for size in (SMALL, large_size):
                url = server.create_database()
                engine = make_engine(url)
                end = generate(engine, size).end
                engine.dispose()
                timings[("postgresql", size)] = time_overview(url, end)
    for (backend, size), (total, breakdown) in timings.items():
        parts = ", ".join(f"{name} {s * 1000:.1f}" for name, s in breakdown.items())
        print(f"  {backend} {size:,}: {total * 1000:.1f} ms ({parts} ms)")
    for backend in ("sqlite", "postgresql"):
        if (backend, large_size) in timings:
            small, large = timings[(backend, SMALL)][0], timings[(backend, large_size)][0]
            results += judge(backend, small, large, large_size)
    return results


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(10_000_000 if "--large" in sys.argv else 1_000_000))
