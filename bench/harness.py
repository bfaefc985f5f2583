"""What every bench shares: results, timing, a PostgreSQL server, and servers in subprocesses."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fixtures.postgres import PostgresServer, running_server
from tests.servers import free_port

WORK = Path(os.environ.get("VOICEWATCH_BENCH_DIR", "/tmp/voicewatch-bench"))


@dataclass(frozen=True)
class Result:
    """One row of the bench table: `value` against `baseline`, judged by `passed` (None: a
    row for context, judged by nobody)."""

    target: str
    value: str
    baseline: str
    ratio: float | None
    goal: str
    passed: bool | None
    note: str = ""


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of `action` over `repeat` runs (after one warm-up run)."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def fresh_dir(name: str) -> Path:
    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextmanager
def postgres() -> Iterator[PostgresServer | None]:
    """A PostgreSQL server of our own on 127.0.0.1 (None when the binaries are missing)."""
    with running_server() as server:
        yield server


def postgres_version(server: PostgresServer | None) -> str:
    if server is None:
        return "not installed"
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres") as c:
        return c.execute("SHOW server_version").fetchone()[0]


@contextmanager
def served(target: Callable[..., None], *args: object) -> Iterator[str]:
    """Run `target(port, *args)` (which serves HTTP on 127.0.0.1:port) in a child process."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=target, args=(port, *args), daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            httpx.get(f"{url}/ready", timeout=1)
            break
        except httpx.TransportError:
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server {target.__name__} did not start") from None
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.join(10)
