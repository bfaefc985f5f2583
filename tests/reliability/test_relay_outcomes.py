"""The relay answers its caller first and records after: a locked database, a killed service
or a burst of pushes delays the record, never the caller, and loses nothing; a send whose
answer was lost is stored as unknown and joined later to the report for its number."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest.sending import send_and_record
from ingest.service.app import create_app
from ingest.settings import Settings
from ingest.store.engine import make_engine
from ingest.store.models import Report, Send
from ingest.store.outbox import RelayOutbox, outbox_path, send_payload
from ingest.yunpian.client import VoiceClient
from tests.reliability.test_database_faults import WriteLock
from tests.servers import ServerThread, free_port, ingest_process, wait_until

CHINA = ZoneInfo("Asia/Shanghai")
FORM = {"content-type": "application/x-www-form-urlencoded"}


def sends(engine) -> list[Send]:
    with Session(engine) as session:
        return list(session.scalars(select(Send).order_by(Send.id)))


def reports_stored(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Report)).scalar_one()


def report_push(sid: str, mobile: str, at: datetime) -> bytes:
    """A push body as Yunpian sends it, one report of a call ended at `at`."""
    report = {
        "sid": sid,
        "uid": None,
        "user_receive_time": at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "duration": 0,
        "error_msg": "用户未接听",
        "mobile": mobile,
        "report_status": "FAIL",
    }
    return urlencode({"voice_status": json.dumps([report], ensure_ascii=False)}).encode()


@pytest.fixture
def sqlite_service(tmp_path, simulator) -> Iterator:
    """`start()` → a relay to the simulator over a SQLite file (engine with a 30 s busy wait)."""
    url = f"sqlite:///{tmp_path / 'voicewatch.db'}"
    engine = make_engine(url)
    settings = Settings.from_env(
        {"VOICEWATCH_DB": url, "VOICEWATCH_DIGEST_KEY": "k", "YUNPIAN_VOICE_URL": simulator.url},
        env_file=None,
    )
    yield engine, settings, str(tmp_path / "voicewatch.db")
    engine.dispose()


@pytest.mark.slow
def test_a_write_locked_database_delays_the_record_never_the_caller(sqlite_service, simulator):
    engine, settings, path = sqlite_service
    mobiles = ["15205201314", "15205201315", "15205201316"]
    with ServerThread(create_app(settings, engine)) as relay:
        lock, locked_at = WriteLock(path), time.monotonic()
        try:
            answers, waits = [], []
            for mobile in mobiles:
                started = time.monotonic()
                answers.append(
                    httpx.post(
                        f"{relay.url}/v2/voice/send.json",
                        data={"apikey": simulator.apikey, "mobile": mobile, "code": "2468"},
                        timeout=30,
                    )
                )
                waits.append(time.monotonic() - started)
            assert sends(engine) == []  # still locked: recorded later
            # The lock is held 20 s in all, as a long report transaction or a backup would.
            time.sleep(max(0.0, 20 - (time.monotonic() - locked_at)))
        finally:
            lock.release()
        assert max(waits) < 5, waits
        assert [a.json().get("code", 0) for a in answers] == [0, 0, 0]
        stored = wait_until(lambda: len(found := sends(engine)) == 3 and found, timeout=40)
    # A record that met the lock is retried behind the others, so ids need not follow the
    # sends' order; their times do.
    in_send_order = sorted(stored, key=lambda send: send.sent_at)
    assert [s.sid for s in in_send_order] == [a.json()["sid"] for a in answers]
    assert {c["sid"] for c in simulator.ground_truth()["calls"]} == {s.sid for s in stored}


@pytest.mark.slow
def test_sends_answered_before_a_kill_are_stored_after_the_restart(sqlite_service, simulator):
    engine, settings, path = sqlite_service
    port = free_port()
    env = os.environ | {
        "VOICEWATCH_DB": settings.db_url,
        "YUNPIAN_VOICE_URL": simulator.url,
        "VOICEWATCH_DIGEST_KEY": "k",
    }
    with ingest_process(env, port) as service:
        lock = WriteLock(path)
        try:
            answers = [
                httpx.post(
                    f"http://127.0.0.1:{port}/v2/voice/send.json",
                    data={"apikey": simulator.apikey, "mobile": f"1390000000{i}", "code": "2468"},
                    timeout=10,
                )
                for i in range(3)
            ]
            service.send_signal(signal.SIGKILL)
            service.wait(timeout=10)
        finally:
            lock.release()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sends(engine) == []  # killed before it could store them
    with ingest_process(env, port):
        stored = wait_until(lambda: len(found := sends(engine)) == 3 and found, timeout=30)
    assert sorted(s.sid for s in stored) == sorted(a.json()["sid"] for a in answers)


def test_unknown_send_is_joined_to_the_report_of_its_number(misbehaving, make_ingest, engine):
    """No sid is known: the report for the number within minutes of the send joins it."""
    upstream = misbehaving("hang")
    relay = make_ingest(voice_url=upstream.url, upstream_timeout=0.5)
    for mobile in ("15205201314", "15205201399"):
        answer = httpx.post(
            f"{relay.url}/v2/voice/send.json",
            data={"apikey": "k" * 32, "mobile": mobile, "code": "2468"},
            timeout=30,
        )
        assert answer.status_code == 202
    wait_until(lambda: len(sends(engine)) == 2)
    now = datetime.now(UTC)
    for body in (
        report_push("a" * 32, "15205201314", now + timedelta(seconds=40)),
        # Another number's report, and this number's report long after: neither joins.
        report_push("b" * 32, "15205201300", now + timedelta(seconds=40)),
        report_push("c" * 32, "15205201399", now + timedelta(minutes=30)),
    ):
        pushed = httpx.post(f"{relay.url}/push/voice", content=body, headers=FORM)
        assert (pushed.status_code, pushed.text) == (200, "SUCCESS")

    joined = wait_until(lambda: (found := sends(engine))[0].sid and found, timeout=30)
    assert (joined[0].sid, joined[0].state, joined[0].fee, joined[0].count) == (
        "a" * 32,
        "accepted (joined)",
        1,
        1,
    )
    assert (joined[1].sid, joined[1].state) == (None, "unknown")


def test_relay_latency_stays_near_idle_under_a_push_burst(simulator, make_ingest, engine):
    """Sends do not queue behind report storage (the push receiver's writer)."""
    relay = make_ingest(voice_url=simulator.url)
    http = httpx.Client(base_url=relay.url, timeout=30)

    def relay_seconds(count: int, offset: int) -> list[float]:
        waits = []
        for i in range(count):
            started = time.monotonic()
            answer = http.post(
                "/v2/voice/send.json",
                data={"apikey": simulator.apikey, "mobile": f"138{offset + i:08d}", "code": "2468"},
            )
            waits.append(time.monotonic() - started)
            assert answer.status_code == 200
        return waits

    idle = statistics.median(relay_seconds(20, 0))
    stop = threading.Event()
    base = datetime.now(UTC)

    def push_forever(worker: int) -> None:
        with httpx.Client(base_url=relay.url, timeout=30) as pusher:
            batch = 0
            while not stop.is_set():
                reports = [
                    {
                        "sid": f"{worker:02d}{batch:06d}{i:04d}",
                        "uid": None,
                        "user_receive_time": base.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                        "duration": 3,
                        "error_msg": None,
                        "mobile": f"137{i:08d}",
                        "report_status": "SUCCESS",
                    }
                    for i in range(500)
                ]
                body = urlencode({"voice_status": json.dumps(reports)}).encode()
                answer = pusher.post("/push/voice", content=body, headers=FORM)
                assert answer.text == "SUCCESS", answer.text
                batch += 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pushers = [pool.submit(push_forever, worker) for worker in range(8)]
        try:
            wait_until(lambda: reports_stored(engine) >= 2000)  # the burst is on
            burst = statistics.median(relay_seconds(20, 1000))
        finally:
            stop.set()
        for pusher in pushers:
            pusher.result()
    http.close()
    # Before the outbox, each send waited for the reports' writer: +55 ms here, +270 ms in
    # the field. Now nothing it does waits on the database.
    assert burst < max(4 * idle, idle + 0.03), (idle, burst)


@pytest.mark.parametrize(("mode", "state"), [("hang", "unknown"), ("close", "unknown")])
def test_a_send_from_voicewatch_itself_that_lost_its_answer_is_unknown(
    misbehaving, engine, settings, mode, state
):
    upstream = misbehaving(mode)
    with VoiceClient(upstream.url, "k" * 32, timeout=0.5) as client:
        outcome = send_and_record(client, engine, settings, "15205201314", "2468", source="cli")
    assert (outcome.accepted, outcome.result_code, outcome.state) == (False, None, state)
    [send] = sends(engine)
    assert send.state == state and len(upstream.requests) == 1


def test_a_send_from_voicewatch_itself_that_never_left_is_not_sent(engine, settings):
    with VoiceClient(f"http://127.0.0.1:{free_port()}", "k" * 32, backoff=0.01) as client:
        outcome = send_and_record(client, engine, settings, "15205201314", "2468", source="cli")
    assert (outcome.result_code, outcome.state) == (-50, "not sent")


def test_a_record_the_database_refuses_holds_up_no_other(make_ingest, engine):
    """What a previous run left in the outbox is stored at the start; a record that cannot
    be stored is retried behind the others and kept, never blocking them."""
    outbox = RelayOutbox(outbox_path(engine))
    good = Send(
        sent_at=datetime.now(UTC),
        mobile="15205201314",
        code_digest="d",
        kind="code",
        result_code=None,
        fee=0,
        count=0,
        source="relay",
        carrier="",
        province="",
    )
    outbox.keep("send", send_payload(good) | {"mobile": None})  # NOT NULL: refused
    outbox.keep("send", send_payload(good))
    outbox.close()
    make_ingest()
    [stored] = wait_until(lambda: sends(engine))
    assert stored.state == "unknown" and stored.mobile == "15205201314"
    left = RelayOutbox(outbox_path(engine))
    waiting = wait_until(lambda: len(found := left.waiting()) == 1 and found)
    assert waiting[0].payload["mobile"] is None
