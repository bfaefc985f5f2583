"""Soak: relayed sends, pushes and pulls with every simulator fault on, the ingest service
killed and restarted once under load; then the store must equal the ground truth."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from ingest.store.engine import make_engine
from ingest.store.models import RawBody, Report, Send
from tests.reliability.support import metric, pulling
from tests.servers import free_port, ingest_process, wait_until

pytestmark = pytest.mark.slow

SENDS = 3000
KILL_AFTER = 1000
PUSH_TOKEN = "soak-push-token"
FAULTS = {
    "fault_5xx": 0.05,
    "fault_malformed": 0.03,
    "fault_latency": 0.002,
    "fault_drop_push": 0.2,
    "fault_duplicate_push": 0.2,
    "fault_reorder": 0.3,
}


class Sender(threading.Thread):
    """Relays SENDS sends, each to its own number, once each whatever happens."""

    def __init__(self, relay_url: str, apikey: str) -> None:
        super().__init__(daemon=True)
        self.relay_url, self.apikey = relay_url, apikey
        self.mobiles = [f"150{i:08d}" for i in range(SENDS)]
        self.accepted: dict[str, str] = {}  # mobile -> sid, as the relay answered
        self.unanswered = 0  # in flight when the service was killed
        self.done = 0

    def run(self) -> None:
        with httpx.Client(base_url=self.relay_url, timeout=10) as http:
            for mobile in self.mobiles:
                form = {"apikey": self.apikey, "mobile": mobile, "code": "2468"}
                try:
                    answer = self._post(http, form)
                except httpx.TransportError:  # sent, answer lost: never sent again
                    self.unanswered += 1
                else:
                    try:
                        sid = answer.json().get("sid") if answer.status_code == 200 else None
                    except ValueError:  # a garbled answer passed through
                        sid = None
                    if sid:
                        self.accepted[mobile] = sid
                self.done += 1

    def _post(self, http: httpx.Client, form: dict[str, str]) -> httpx.Response:
        """POST, retrying only while the service refuses connections (nothing was sent)."""
        while True:
            try:
                return http.post("/v2/voice/send.json", data=form)
            except httpx.ConnectError:
                time.sleep(0.05)  # the service is restarting


class Poisoner(threading.Thread):
    """Pushes reports of its own, each push with a poisoned one among them (a lone surrogate,
    NUL, an over-long sid, a duration past 64 bits, an unknown status), until stopped; keeps
    the sids of the good ones in pushes acknowledged SUCCESS."""

    POISONS = (
        '"sid": "p\\ud800"',
        '"error_msg": "\\u0000"',
        '"sid": "' + "s" * 200 + '"',
        '"duration": 18446744073709551616',
    )

    def __init__(self, push_url: str) -> None:
        super().__init__(daemon=True)
        self.push_url = push_url
        self.acknowledged: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            for i in itertools.count():
                if self.stop.wait(0.02):
                    return
                goods = [
                    _report(f"poison-run-{i}-{j}", "NEW_STATUS" if j == 0 else "FAIL")
                    for j in range(5)
                ]
                bad = (
                    json.dumps(_report("poisoned", "FAIL"))[:-1] + ", " + self.POISONS[i % 4] + "}"
                )
                text = "[" + ", ".join([*map(json.dumps, goods), bad]) + "]"
                try:
                    answer = http.post(
                        self.push_url,
                        content=urlencode({"voice_status": text}).encode(),
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                except httpx.TransportError:  # the service is being killed or restarted
                    continue
                if answer.text == "SUCCESS":
                    self.acknowledged |= {item["sid"] for item in goods}


def _report(sid: str, status: str) -> dict:
    return {
        "sid": sid,
        "uid": None,
        "user_receive_time": "2026-11-20 14:29:12",
        "duration": 0,
        "error_msg": "failed",
        "mobile": "15205201314",
        "report_status": status,
    }


def test_store_equals_ground_truth_after_faults_and_a_restart_under_load(
    make_simulator, sqlite_url
):
    port = free_port()
    ingest_url = f"http://127.0.0.1:{port}"
    simulator = make_simulator(
        push_url=f"{ingest_url}/push/voice?token={PUSH_TOKEN}",
        push_max_attempts=60,
        push_retry_base=0.05,
        push_batch_size=50,
        **FAULTS,
    )
    env = os.environ | {
        "VOICEWATCH_DB": sqlite_url,
        "YUNPIAN_VOICE_URL": simulator.url,
        "YUNPIAN_APIKEY": simulator.apikey,
        "VOICEWATCH_PUSH_TOKEN": PUSH_TOKEN,
        "VOICEWATCH_DIGEST_KEY": "soak",
    }
    engine = make_engine(sqlite_url)
    sender = Sender(ingest_url, simulator.apikey)
    poisoner = Poisoner(f"{ingest_url}/push/voice?token={PUSH_TOKEN}")
    with pulling(simulator, engine, interval=0.2, max_backoff=1.0):
        with ingest_process(env, port) as first:
            sender.start()
            poisoner.start()
            wait_until(lambda: sender.done >= KILL_AFTER, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        with ingest_process(env, port):
            sender.join(timeout=120)
            assert not sender.is_alive()
            poisoner.stop.set()
            poisoner.join(timeout=30)
            ground_truth = simulator.ground_truth()
            truth = {call["sid"]: call for call in ground_truth["calls"]}
            wait_until(lambda: truth.keys() <= _stored(engine).keys(), timeout=120, interval=0.5)
            metrics = httpx.get(f"{ingest_url}/metrics").text

    # Poisoned pushes among the valid ones: each acknowledged push's good reports are stored
    # (acknowledged = stored), and nothing else of them.
    stored_sids = _stored(engine).keys()
    assert poisoner.acknowledged and poisoner.acknowledged <= stored_sids
    assert stored_sids - truth.keys() <= {s for s in stored_sids if s.startswith("poison-run-")}
    assert _stored(engine)[min(poisoner.acknowledged)].status in ("NEW_STATUS", "FAIL")

    # One relayed send placed at most one call, and only to the number it was for.
    called = [call["mobile"] for call in truth.values()]
    assert len(called) == len(set(called)) and set(called) <= set(sender.mobiles)
    # Nor was any send repeated: a repeat within 30 s would be refused as a throttle (code 8).
    assert ground_truth["rejected"] == []
    assert len(truth) > SENDS * 0.8
    # Every report stored once, as it really was.
    stored = _stored(engine)
    quarantined = _count_raw(engine, "quarantined")
    assert quarantined >= len(poisoner.acknowledged) // 5
    for sid, call in truth.items():
        report = call["report"]
        assert (stored[sid].status, stored[sid].duration, stored[sid].error_msg) == (
            report["report_status"],
            report["duration"],
            report["error_msg"],
        )
    # Every send the relay answered as accepted was recorded before the answer went out.
    with engine.connect() as connection:
        recorded = {
            mobile: sid
            for mobile, sid in connection.execute(
                select(Send.mobile, Send.sid).where(Send.sid.is_not(None))
            )
        }
        pending = connection.execute(
            select(func.count()).where(RawBody.parse_status == "pending")
        ).scalar_one()
    assert sender.accepted.items() <= recorded.items()
    assert pending == 0
    assert metric(metrics, "voicewatch_upstream_errors_total") > 0
    assert metric(metrics, 'voicewatch_report_duplicates_total{channel="push"}') > 0
    engine.dispose()


def _count_raw(engine, status: str) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).where(RawBody.parse_status == status)
        ).scalar_one()


def _stored(engine) -> dict[str, Report]:
    with engine.connect() as connection:
        return {row.sid: row for row in connection.execute(select(Report))}
