"""The database locked (SQLite busy) or down (PostgreSQL restarted): ingest refuses what it
cannot keep so Yunpian retries, retries its own idempotent writes, keeps running, says so on
/healthz and /metrics, and loses no acknowledged report."""

from __future__ import annotations

import concurrent.futures
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine, event, func, select

from ingest.service.app import create_app
from ingest.settings import Settings
from ingest.store.engine import make_engine
from ingest.store.models import PullRun, RawBody, Report, Send
from ingest.yunpian.client import VoiceClient
from tests.ingest.test_reports import REFERENCE_EXAMPLE
from tests.reliability.support import metric, pulling
from tests.servers import ServerThread, wait_until

FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD_BODY = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()


class WriteLock:
    """Another process's write transaction on a SQLite file, held until `release()`."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None


def impatient_sqlite_engine(url: str) -> Engine:
    """A voicewatch engine that waits 200 ms (not 30 s) for a lock, so tests see it fail."""
    engine = make_engine(url)
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=200"))
    engine.dispose()
    return engine


@pytest.fixture
def sqlite_path(tmp_path) -> str:
    return str(tmp_path / "voicewatch.db")


@pytest.fixture
def locked_setup(sqlite_path) -> Iterator[tuple[Engine, Settings]]:
    url = f"sqlite:///{sqlite_path}"
    engine = impatient_sqlite_engine(url)
    settings = Settings.from_env(
        {"VOICEWATCH_DB": url, "VOICEWATCH_DIGEST_KEY": "k"}, env_file=None
    )
    yield engine, settings
    engine.dispose()


@contextmanager
def service(settings: Settings, engine: Engine) -> Iterator[ServerThread]:
    with ServerThread(create_app(settings, engine)) as server:
        yield server


def count(engine: Engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def stored_sids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(Report.sid)))


def test_push_while_sqlite_is_locked_is_refused_with_503_then_stored_on_retry(
    locked_setup, sqlite_path
):
    engine, settings = locked_setup
    with service(settings, engine) as ingest:
        lock = WriteLock(sqlite_path)
        try:
            refused = httpx.post(f"{ingest.url}/push/voice", content=GOOD_BODY, headers=FORM)
            health = httpx.get(f"{ingest.url}/healthz").json()
            metrics = httpx.get(f"{ingest.url}/metrics").text
        finally:
            lock.release()
        retried = httpx.post(f"{ingest.url}/push/voice", content=GOOD_BODY, headers=FORM)

    assert refused.status_code == 503 and refused.text != "SUCCESS"
    assert metric(metrics, 'voicewatch_store_errors_total{what="push"}') == 1
    assert health["errors"]["store"] == 1 and health["last_error"]["what"] == "store.push"
    assert health["last_error"]["error"] == "OperationalError"
    assert (retried.status_code, retried.text) == (200, "SUCCESS")
    assert count(engine, RawBody) == 1 and len(stored_sids(engine)) == 2


def test_relayed_send_is_recorded_once_a_brief_lock_is_gone(
    locked_setup, sqlite_path, simulator, caplog
):
    engine, settings = locked_setup
    settings = Settings(**{**settings.__dict__, "voice_url": simulator.url})
    form = {"apikey": simulator.apikey, "mobile": "15205201314", "code": "2468"}
    with service(settings, engine) as relay, concurrent.futures.ThreadPoolExecutor(1) as pool:
        lock = WriteLock(sqlite_path)
        try:
            answer = pool.submit(httpx.post, f"{relay.url}/v2/voice/send.json", data=form)
            wait_until(lambda: "event=store.retry" in caplog.text, timeout=10)
        finally:
            lock.release()
        assert answer.result(timeout=10).status_code == 200
    with engine.connect() as connection:
        [send] = connection.execute(select(Send)).all()
    assert send.sid == simulator.ground_truth()["calls"][0]["sid"]


def test_pull_loop_holds_a_pulled_page_while_sqlite_is_locked(
    locked_setup, sqlite_path, make_simulator, caplog
):
    engine, _ = locked_setup
    simulator = make_simulator(fault_latency=0.3)
    with VoiceClient(simulator.url, simulator.apikey) as client:
        for i in range(30):
            client.send(f"138{i:08d}", "2468")
    wait_until(lambda: simulator.state()["pull_queue"]["1"] == 30, timeout=10)
    with pulling(simulator, engine, interval=0.05, max_backoff=0.5) as puller:
        # The pull run is recorded, its request is in flight (0.3 s): lock the database now.
        wait_until(lambda: count(engine, PullRun) >= 1, timeout=10, interval=0.005)
        lock = WriteLock(sqlite_path)
        try:
            wait_until(lambda: "event=pull.store_failed" in caplog.text, timeout=10)
            assert simulator.state()["pull_queue"]["1"] == 0  # handed out, not yet kept
            assert puller.is_alive()
        finally:
            lock.release()
        truth = {call["sid"] for call in simulator.ground_truth()["calls"]}
        wait_until(lambda: stored_sids(engine) == truth, timeout=20)


@pytest.mark.postgres
def test_postgres_restart_under_push_and_pull_loses_nothing(
    private_postgres_server, make_simulator
):
    url = private_postgres_server.create_database()
    engine = make_engine(url)
    settings = Settings.from_env(
        {"VOICEWATCH_DB": url, "VOICEWATCH_DIGEST_KEY": "k"}, env_file=None
    )
    with service(settings, engine) as ingest:
        simulator = make_simulator(
            push_url=f"{ingest.url}/push/voice", push_max_attempts=60, push_retry_base=0.05
        )
        with (
            pulling(simulator, engine, interval=0.2, max_backoff=0.5) as puller,
            VoiceClient(simulator.url, simulator.apikey) as sender,
        ):
            for i in range(20):
                sender.send(f"135{i:08d}", "2468")
            wait_until(lambda: len(stored_sids(engine)) == 20, timeout=20)

            private_postgres_server.stop()
            down = httpx.get(f"{ingest.url}/healthz")
            for i in range(20, 40):
                sender.send(f"135{i:08d}", "2468")
            wait_until(
                lambda: (
                    metric(httpx.get(f"{ingest.url}/metrics").text, "voicewatch_store_errors") > 0
                ),
                timeout=20,
            )
            assert puller.is_alive()
            private_postgres_server.start()

            truth = {call["sid"] for call in simulator.ground_truth()["calls"]}
            wait_until(lambda: stored_sids(engine) == truth, timeout=60, interval=0.2)
            up = httpx.get(f"{ingest.url}/healthz")
    engine.dispose()
    assert down.status_code == 503 and down.json()["status"] == "degraded"
    assert up.status_code == 200 and up.json()["last_error"]["what"].startswith("store.")
    assert len(truth) == 40


def test_pushes_while_sqlite_stays_locked_are_answered_503_within_the_store_wait(
    sqlite_path, simulator
):
    """The lock is held for 10 s, well past the 1 s store wait (as a 30-100 s lock would be):
    every push meanwhile is answered 503 within a few seconds, none SUCCESS unless stored,
    and once the lock is gone pushes are stored and the pull loop, running all along, is too."""
    url = f"sqlite:///{sqlite_path}"
    settings = Settings.from_env(
        {"VOICEWATCH_DB": url, "VOICEWATCH_DIGEST_KEY": "k", "VOICEWATCH_STORE_WAIT": "1"},
        env_file=None,
    )
    engine = make_engine(url, store_wait=settings.store_wait)

    def push() -> tuple[int, str, float]:
        started = time.monotonic()
        answer = httpx.post(f"{ingest.url}/push/voice", content=GOOD_BODY, headers=FORM, timeout=60)
        return answer.status_code, answer.text, time.monotonic() - started

    with (
        service(settings, engine) as ingest,
        concurrent.futures.ThreadPoolExecutor(4) as pool,
        pulling(simulator, engine, interval=0.05, max_backoff=0.5),
    ):
        lock = WriteLock(sqlite_path)
        locked_at = time.monotonic()
        answers = []
        try:
            with VoiceClient(simulator.url, simulator.apikey) as client:
                client.send("13800000001", "2468")
            while time.monotonic() - locked_at < 10:
                answers += pool.map(lambda _: push(), range(4))
            assert stored_sids(engine) == set()
        finally:
            lock.release()
        truth = {call["sid"] for call in simulator.ground_truth()["calls"]}
        wait_until(lambda: truth <= stored_sids(engine), timeout=20)
        retried = push()
    engine.dispose()
    assert {status for status, _, _ in answers} == {503} and len(answers) >= 8
    assert all(text != "SUCCESS" for _, text, _ in answers)
    assert max(seconds for _, _, seconds in answers) < 8  # wait 1 s; generous for 2 busy cores
    assert retried[:2] == (200, "SUCCESS")
