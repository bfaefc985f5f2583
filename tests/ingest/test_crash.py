"""SIGKILL the ingest service or the pull loop mid-stream: no acknowledged record is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ingest.store.models import RawBody, Report
from ingest.store.spool import SUFFIX
from ingest.yunpian.client import VoiceClient, interpret_pull_answer
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def crash_env(db_url, simulator) -> dict[str, str]:
    return os.environ | {
        "VOICEWATCH_DB": db_url,
        "YUNPIAN_VOICE_URL": simulator.url,
        "YUNPIAN_APIKEY": simulator.apikey,
        "VOICEWATCH_DIGEST_KEY": "crash-test",
    }


@contextmanager
def voicewatch(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", *args], env=env, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def stored_sids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(Report.sid)))


def send_many(simulator, count: int, callback_url: str | None = None) -> None:
    with VoiceClient(simulator.url, simulator.apikey) as client:
        for i in range(count):
            client.send(f"15{i:09d}", "7531", callback_url=callback_url)


def test_killed_ingest_service_loses_no_acknowledged_push(make_simulator, crash_env, engine):
    port = free_port()
    push_url = f"http://127.0.0.1:{port}/push/voice"
    simulator = make_simulator(push_batch_size=50, push_max_attempts=40, push_retry_base=0.05)
    env = crash_env | {"YUNPIAN_VOICE_URL": simulator.url, "YUNPIAN_APIKEY": simulator.apikey}

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    with voicewatch(env, "serve", "--port", str(port)) as service:
        wait_until(healthy, timeout=30)
        send_many(simulator, 1500, callback_url=push_url)
        wait_until(lambda: len(stored_sids(engine)) > 300, timeout=60)
        service.send_signal(signal.SIGKILL)
        service.wait(timeout=10)
    acknowledged_before_kill = {
        c["sid"] for c in simulator.ground_truth()["calls"] if c["push_acknowledged"]
    }
    assert acknowledged_before_kill <= stored_sids(engine)

    with voicewatch(env, "serve", "--port", str(port)):
        wait_until(healthy, timeout=30)
        truth = {call["sid"] for call in simulator.ground_truth()["calls"]}
        wait_until(lambda: stored_sids(engine) == truth, timeout=120, interval=0.5)
        # The last acknowledgements travel back after their reports are committed.
        wait_until(
            lambda: all(c["push_acknowledged"] for c in simulator.ground_truth()["calls"]),
            timeout=30,
        )
    assert {call["sid"] for call in simulator.ground_truth()["calls"]} == stored_sids(engine)


def test_killed_pull_loop_loses_nothing_it_kept(simulator, crash_env, engine):
    """Yunpian hands a pulled report out once: what the loop kept (body committed to the spool
    beside SQLite, or to the raw inbox) must be stored after a restart. A page in flight at the
    kill — received, not yet committed — is the one thing pull cannot save; push delivery
    covers it in production."""
    send_many(simulator, 3000)
    wait_until(lambda: simulator.state()["pull_queue"]["1"] == 3000, timeout=30)

    with voicewatch(crash_env, "pull", "--interval", "0.1") as puller:
        wait_until(lambda: len(stored_sids(engine)) >= 500, timeout=60)
        puller.send_signal(signal.SIGKILL)
        puller.wait(timeout=10)
    with voicewatch(crash_env, "pull", "--interval", "0.1"):
        wait_until(lambda: simulator.state()["pull_queue"]["1"] == 0, timeout=60)
        # What the killed loop left in the spool is stored when the new one starts.
        wait_until(lambda: kept_sids(engine) <= stored_sids(engine), timeout=30)

    handed_out = {call["sid"] for call in simulator.ground_truth()["calls"] if call["pulled"]}
    assert len(handed_out) == 3000
    assert len(handed_out - stored_sids(engine)) <= 100


def kept_sids(engine) -> set[str]:
    """Every report of a pull body committed: in the raw inbox, or still in the spool."""
    with engine.connect() as connection:
        bodies = list(connection.scalars(select(RawBody.body).where(RawBody.channel == "pull")))
    spool = Path(f"{engine.url.database}{SUFFIX}")
    if engine.dialect.name == "sqlite" and spool.exists():
        with closing(sqlite3.connect(f"file:{spool}?mode=ro", uri=True)) as connection:
            bodies += [body for (body,) in connection.execute("SELECT body FROM spooled")]
    return {report.sid for body in bodies for report in interpret_pull_answer(200, body)}
