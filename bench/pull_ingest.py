"""Target 2: the pull loop (`ingest.pull.drain`) empties a simulator queue of reports into
SQLite at ≥ 0.5 × the rate the simulator alone hands the same queue to a bare httpx loop."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import func, select
from tqdm import tqdm

from bench.data import numbers
from bench.harness import WORK, Result, fresh_dir, served
from ingest.store.models import Report

APIKEY = "b3nchb3nchb3nchb3nchb3nchb3nch00"
GOAL = 0.5
# Yunpian is a network away: the same comparison with answers this late, for context.
NETWORK_LATENCY, NETWORK_REPORTS = 0.03, 20_000


def serve_simulator(port: int, count: int, latency: float = 0.0) -> None:
    """A simulator on 127.0.0.1:`port` with `count` voice-code reports queued for pull,
    answering each request `latency` seconds late."""
    import uvicorn

    from ingest.simulator import SimulatorConfig, create_app

    config = SimulatorConfig(
        apikey=APIKEY,
        seed=6,
        call_delay=0.0,
        quiet_hours=False,
        balance=10**12,
        fault_latency=latency,
    )
    app = create_app(config)
    world = app.state.world
    mobiles = [row[1] for row in numbers()]
    for i in range(count):  # each number gets a new code each time: never throttled
        accepted = world.send(
            {
                "apikey": APIKEY,
                "mobile": mobiles[i % len(mobiles)],
                "code": f"{i // len(mobiles) % 900000 + 100000}",
            }
        )
        if not hasattr(accepted, "sid"):
            raise RuntimeError(f"simulator refused send {i}: {accepted}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bare_loop(url: str, count: int) -> float:
    """Seconds for plain httpx to pull every queued report, 100 a page, parsing nothing."""
    got = 0
    with (
        httpx.Client(timeout=30) as http,
        tqdm(total=count, desc="bare pull", unit="report") as bar,
    ):
        started = time.perf_counter()
        while True:
            answer = http.post(
                f"{url}/v2/voice/pull_status.json",
                data={"apikey": APIKEY, "page_size": "100", "type": "1"},
            )
            page = answer.json()
            got += len(page)
            bar.update(len(page))
            if len(page) < 100:
                break
        elapsed = time.perf_counter() - started
    if got != count:
        raise RuntimeError(f"bare loop pulled {got} of {count}")
    return elapsed


def pull_loop(url: str, db_url: str, count: int) -> tuple[float, int]:
    """Seconds for ingest's drain() to pull and store everything; reports stored."""
    from ingest.pull import drain
    from ingest.store.engine import make_engine
    from ingest.yunpian.client import VoiceClient

    engine = make_engine(db_url)
    client = VoiceClient(url, APIKEY)
    started = time.perf_counter()
    result = drain(client, engine)
    elapsed = time.perf_counter() - started
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Report)).scalar_one()
    engine.dispose()
    if result.reports != count:
        raise RuntimeError(f"drain pulled {result.reports} of {count}")
    return elapsed, stored


def store_alone(pulled_url: str, db_url: str) -> float:
    """Seconds for the store alone to do what drain() does with the pages it pulled (spool
    each body, parse it, store as many pages a transaction as drain's writer may, then forget
    them), with no HTTP and no threads: the floor under the pull loop."""
    from ingest.pull import QUEUED_PAGES
    from ingest.store.engine import make_engine
    from ingest.store.models import RawBody
    from ingest.store.spool import spool_for
    from ingest.store.upserts import store_pages
    from ingest.store.writes import utcnow
    from ingest.yunpian.client import interpret_pull_answer

    pulled = make_engine(pulled_url)
    with pulled.connect() as connection:
        bodies = list(connection.scalars(select(RawBody.body).order_by(RawBody.id)))
    pulled.dispose()
    engine = make_engine(db_url)
    spool = spool_for(engine)
    started = time.perf_counter()
    for start in range(0, len(bodies), QUEUED_PAGES):
        kept = [spool.keep(body, utcnow()) for body in bodies[start : start + QUEUED_PAGES]]
        store_pages(engine, [(k, interpret_pull_answer(200, k.body)) for k in kept], "pull")
        spool.forget([k.id for k in kept])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run(count: int) -> list[Result]:
    loop, rate = compare(count)
    store_seconds = store_alone(
        f"sqlite:///{WORK / 'pull' / 'pull.db'}", f"sqlite:///{fresh_dir('pull-store') / 's.db'}"
    )
    print(f"  the store alone, same pages: {store_seconds:.1f} s")
    store_rate = count / store_seconds
    floor = Result(
        f"2 Pull ingest vs the store alone, {count:,} reports",
        loop.value,
        f"{store_rate:,.0f} reports/s",
        rate / store_rate,
        "context",
        None,
    )
    return [loop, floor, compare(NETWORK_REPORTS, NETWORK_LATENCY)[0]]


def compare(count: int, latency: float = 0.0) -> tuple[Result, float]:
    """The pull loop against the bare loop on the same queue; and the pull loop's rate."""
    directory = fresh_dir("pull")
    print(f"  queueing {count:,} reports in the simulator (twice: each queue drains once) …")
    with served(serve_simulator, count, latency) as url:
        bare = bare_loop(url, count)
    with served(serve_simulator, count, latency) as url:
        seconds, stored = pull_loop(url, f"sqlite:///{directory / 'pull.db'}", count)
    bare_rate, rate = count / bare, (count / seconds if stored == count else 0.0)
    print(f"  pull loop: {stored:,} stored in {seconds:.1f} s; bare httpx loop {bare:.1f} s")
    ratio = rate / bare_rate
    note = "" if stored == count else f"only {stored} of {count} stored"
    measured, baseline = f"{rate:,.0f} reports/s", f"{bare_rate:,.0f} reports/s"
    if latency:  # context, not the target: what a real network's round trip does to both
        name = f"2 Pull ingest, {latency * 1000:.0f} ms answers, {count:,} reports"
        return Result(name, measured, baseline, ratio, "context", None, note), rate
    name = f"2 Pull ingest, SQLite, {count:,} reports"
    return Result(name, measured, baseline, ratio, f"≥ {GOAL}×", ratio >= GOAL, note), rate


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(1_000_000 if "--large" in sys.argv else 100_000))
