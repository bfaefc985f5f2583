"""/healthz tells the truth: `degraded` (503) with its reasons while writes fail, the database
is locked, the pull loop has stopped, the disk is nearly full or Yunpian does not answer;
`ok` otherwise. /healthz and /metrics show their details only to whom they may."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from ingest.service.app import create_app
from ingest.service.metrics import IngestMetrics
from ingest.settings import Secret
from ingest.store.alert_models import AlertState
from ingest.store.health import evaluate, read_signals
from tests.fixtures.dashboard import add_rows
from tests.ingest.test_reports import REFERENCE_EXAMPLE
from tests.reliability.test_database_faults import WriteLock
from tests.servers import ServerThread

FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD_BODY = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()
METRICS_TOKEN = "metrics-T0ken-0123456789"


def health(service) -> tuple[int, dict]:
    answer = httpx.get(f"{service.url}/healthz", timeout=20)
    return answer.status_code, answer.json()


def pull_run(finished: datetime, error: str | None = None) -> dict:
    return {
        "started_at": finished - timedelta(seconds=1),
        "finished_at": finished,
        "pages": 1,
        "reports": 0,
        "error": error,
    }


def test_a_healthy_service_is_ok_with_its_checks(make_ingest, engine):
    add_rows(engine, pulls=[pull_run(datetime.now(UTC))])
    status, body = health(make_ingest())
    assert (status, body["status"], body["reasons"], body["problems"]) == (200, "ok", [], [])
    assert body["database"] == "ok" and body["checks"]["last_pull"] is not None


def test_a_write_locked_database_is_degraded_then_ok_once_released(make_ingest, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("a write lock held by another process is SQLite's")
    service = make_ingest()
    lock = WriteLock(engine.url.database)
    try:
        locked = health(service)
    finally:
        lock.release()
    assert locked[0] == 503 and locked[1]["reasons"] == ["store_failing"]
    assert health(service)[0] == 200


def test_failed_writes_count_until_a_write_succeeds(engine):
    metrics = IngestMetrics(engine)
    before = datetime.now(UTC)
    metrics.store_failed("push", OSError("disk full"))
    assert metrics.recent_store_errors() == 1
    assert metrics.recent_store_errors(after=before) == 1  # nothing stored since
    assert metrics.recent_store_errors(after=datetime.now(UTC)) == 0  # a write succeeded
    assert metrics.recent_store_errors(window=timedelta(0)) == 0  # long ago


def test_a_failed_push_makes_the_store_failing_until_a_push_is_stored(make_ingest, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("a write lock held by another process is SQLite's")
    service = make_ingest(store_wait=0.5)
    lock = WriteLock(engine.url.database)
    try:
        refused = httpx.post(f"{service.url}/push/voice", content=GOOD_BODY, headers=FORM)
        status, body = health(service)
    finally:
        lock.release()
    assert refused.status_code == 503
    assert status == 503 and body["reasons"] == ["store_failing"]
    stored = httpx.post(f"{service.url}/push/voice", content=GOOD_BODY, headers=FORM)
    assert stored.text == "SUCCESS" and health(service)[0] == 200


def test_a_pull_loop_stopped_for_two_minutes_is_stale(make_ingest, engine):
    service = make_ingest(pull_interval=5.0)
    add_rows(engine, pulls=[pull_run(datetime.now(UTC) - timedelta(minutes=2))])
    status, body = health(service)
    assert status == 503 and body["reasons"] == ["pull_stale"]
    add_rows(engine, pulls=[pull_run(datetime.now(UTC))])
    assert health(service)[0] == 200


def test_failing_pulls_mean_the_upstream_is_unreachable(make_ingest, engine):
    service = make_ingest()
    now = datetime.now(UTC)
    add_rows(engine, pulls=[pull_run(now - timedelta(seconds=s), "timeout") for s in (3, 2, 1)])
    status, body = health(service)
    assert status == 503 and body["reasons"] == ["pull_stale", "upstream_unreachable"]


def test_a_nearly_full_disk_is_reported(make_ingest, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("the disk checked is the SQLite file's")
    # More free space than any disk has: the threshold is passed for real.
    status, body = health(make_ingest(disk_min_free_mb=2**40))
    assert status == 503 and body["reasons"] == ["disk_low"]
    assert body["checks"]["disk_free_mb"] > 0


def test_relayed_sends_without_an_answer_mean_the_upstream_is_unreachable(misbehaving, make_ingest):
    upstream = misbehaving("5xx")
    relay = make_ingest(voice_url=upstream.url)
    form = {"apikey": "k" * 32, "mobile": "15205201314", "code": "2468"}
    for sent in range(3):
        assert health(relay)[0] == 200, f"degraded after {sent} failed sends"
        httpx.post(f"{relay.url}/v2/voice/send.json", data=form, timeout=10)
    status, body = health(relay)
    assert status == 503 and body["reasons"] == ["upstream_unreachable"]


def test_the_dashboard_and_healthz_read_the_same_verdict(make_ingest, engine):
    add_rows(engine, pulls=[pull_run(datetime.now(UTC) - timedelta(minutes=2))])
    problems = evaluate(read_signals(engine), pull_interval=5.0, disk_min_free_bytes=0)
    assert [p.reason for p in problems] == health(make_ingest())[1]["reasons"]


def non_loopback_address() -> str:
    """This machine's address on its network (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            address = "127.0.0.1"
    if ipaddress.ip_address(address).is_loopback:
        pytest.skip("this machine has no address but loopback")
    return address


@pytest.fixture
def remote(engine, settings):
    """`remote(**settings)` → the service on this machine's network address, so that its
    callers are not loopback."""
    started: list[ServerThread] = []

    def start(**overrides) -> ServerThread:
        if "metrics_token" in overrides:
            overrides["metrics_token"] = Secret(overrides["metrics_token"])
        configured = dataclasses.replace(settings, **overrides)
        server = ServerThread(create_app(configured, engine), host=non_loopback_address())
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def test_without_a_token_only_loopback_sees_details_and_metrics(remote, make_ingest):
    service = remote()
    status_only = httpx.get(f"{service.url}/healthz")
    assert status_only.status_code == 200 and status_only.json() == {"status": "ok", "reasons": []}
    assert httpx.get(f"{service.url}/metrics").status_code == 403
    local = make_ingest()
    assert "errors" in health(local)[1] and "voicewatch_" in httpx.get(f"{local.url}/metrics").text


@pytest.mark.parametrize(
    ("headers", "query", "full"),
    [
        ({"authorization": f"Bearer {METRICS_TOKEN}"}, "", True),
        ({}, f"?token={METRICS_TOKEN}", True),
        ({"authorization": "Bearer wrong"}, "", False),
        ({}, f"?token={METRICS_TOKEN}x", False),
        ({}, "", False),
    ],
)
def test_with_a_token_details_and_metrics_need_it(remote, make_ingest, headers, query, full):
    service = remote(metrics_token=METRICS_TOKEN)
    details = httpx.get(f"{service.url}/healthz{query}", headers=headers)
    metrics = httpx.get(f"{service.url}/metrics{query}", headers=headers)
    assert details.status_code == 200 and ("errors" in details.json()) == full
    assert (metrics.status_code == 200) == full and METRICS_TOKEN not in metrics.text
    local = make_ingest(metrics_token=METRICS_TOKEN)  # loopback needs it too, once it is set
    answer = httpx.get(f"{local.url}/metrics{query}", headers=headers)
    assert (answer.status_code == 200) == full


def _alert(rule: str, status: str, subject: str = "") -> AlertState:
    now = datetime.now(UTC)
    return AlertState(
        rule=rule,
        subject=subject,
        status=status,
        threshold=1.0,
        since=now,
        fired_at=now if status == "firing" else None,
        updated_at=now,
    )


def test_a_firing_ingest_alert_makes_health_degraded_and_others_do_not(make_ingest, engine):
    # /healthz and the alerts agree: "pushes stopped" firing is degraded health, an answer-rate
    # drop (a carrier's problem, not ingest's) is not.
    add_rows(engine, pulls=[pull_run(datetime.now(UTC))])
    service = make_ingest()
    with Session(engine) as session:
        session.add_all([_alert("answer_rate_drop", "firing"), _alert("push_stale", "pending")])
        session.commit()
    assert health(service)[0] == 200
    with Session(engine) as session:
        session.execute(update(AlertState).values(status="firing"))
        session.commit()
    status, body = health(service)
    assert status == 503 and body["reasons"] == ["ingest_alert"]
    assert [p["detail"] for p in body["problems"]] == ["alert firing: push_stale"]
