"""Callers without the token cost no disk, memory or CPU worth having; nothing a request says
becomes a metric label; and no answer sends a caller to a host the request named."""

from __future__ import annotations

import random
import socket
import string
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, func, select

from ingest.service.http_edge import RefusalBudget
from ingest.store.models import RawBody
from tests.ingest.test_reports import REFERENCE_EXAMPLE

FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD_BODY = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()
TOKEN = "push-T0ken-0123456789"
FOUR_MIB = 4 * 1024 * 1024


def database_bytes(engine: Engine) -> int:
    """The SQLite file and its WAL and shared-memory files, in bytes."""
    path = Path(engine.url.database)
    suffixes = ("", "-wal", "-shm")
    return sum(Path(f"{path}{s}").stat().st_size for s in suffixes if Path(f"{path}{s}").exists())


def raw_post(port: int, path: str, size: int, content_type: str = FORM["content-type"]) -> int:
    """POST `size` bytes as an attacker would (writing until the server stops reading) and
    return the answer's status, or 0 when the server closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        )
        chunk = b"voice_status=" + b"A" * (256 * 1024 - 13)
        sent = 0
        try:
            while sent < size:
                piece = chunk[: size - sent]
                connection.sendall(piece)
                sent += len(piece)
        except OSError:  # the server answered and closed instead of reading it all
            pass
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = connection.recv(4096)
                if not data:
                    break
                answer += data
        except OSError:
            return 0
    return int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_flood_of_unauthenticated_4mib_pushes_adds_almost_nothing_to_the_database(
    make_ingest, engine, caplog
):
    service = make_ingest(push_token=TOKEN, refused_per_minute=20)
    before = database_bytes(engine)
    statuses = [raw_post(service.port, "/push/voice", FOUR_MIB) for _ in range(100)]
    grown = database_bytes(engine) - before

    assert set(statuses) <= {401, 0} and statuses.count(401) >= 90
    with engine.connect() as connection:
        kept, largest = connection.execute(
            select(func.count(), func.max(func.length(RawBody.body)))
        ).one()
    # The budget, plus what refilled (20 a minute) while the flood lasted; a short head each.
    assert 20 <= kept <= 25 and largest <= 1024
    assert grown < 2 * 1024 * 1024, f"the database grew by {grown} bytes"
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'voicewatch_push_rejects_total{reason="token_missing"} 100.0' in metrics
    assert f"voicewatch_push_refusals_not_kept_total {100.0 - kept}" in metrics
    # Nor the log: a line per kept refusal, and one per run of those not kept.
    assert caplog.text.count("event=push.refused ") == kept
    assert caplog.text.count("event=push.refusals_not_kept ") <= kept - 19
    # The one with the token still gets in.
    answer = httpx.post(f"{service.url}/push/voice?token={TOKEN}", content=GOOD_BODY, headers=FORM)
    assert (answer.status_code, answer.text) == (200, "SUCCESS")


def test_a_refused_push_is_answered_before_its_body_is_read(make_ingest, engine):
    """Wrong token and a body that never comes: the answer comes anyway."""
    service = make_ingest(push_token=TOKEN)
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as connection:
        connection.sendall(
            b"POST /push/voice?token=wrong HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 4194304\r\n\r\nvoice_status=%5B"
        )
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 403 ")


def test_random_content_types_leave_the_metric_series_bounded(make_ingest):
    service = make_ingest(refused_per_minute=5)
    letters = string.ascii_letters + string.digits
    with httpx.Client(base_url=service.url) as http:
        series_before = len(http.get("/metrics").text.splitlines())
        for _ in range(2000):
            kind = "".join(random.choices(letters, k=12))
            http.post("/push/voice", content=b"x", headers={"content-type": f"text/{kind}"})
        metrics = http.get("/metrics").text
    assert len(metrics.splitlines()) < series_before + 20
    assert 'voicewatch_push_rejects_total{reason="content_type"} 2000.0' in metrics


def test_trailing_slash_is_not_redirected_to_the_host_the_caller_named(make_ingest, engine):
    service = make_ingest()
    answer = httpx.post(
        f"{service.url}/push/voice/",
        content=GOOD_BODY,
        headers={**FORM, "host": "evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code in (200, 404) and "location" not in answer.headers
    assert "evil.example" not in answer.text
    for path in ("/healthz/", "/metrics/", "/v2/voice/send.json/"):
        other = httpx.get(f"{service.url}{path}", headers={"host": "evil.example"})
        assert not other.is_redirect and "location" not in other.headers


def test_the_refusal_budget_refills_at_its_rate_per_minute():
    now = [0.0]
    budget = RefusalBudget(3, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    assert budget.denied == 2
    now[0] = 19.0  # not yet a third of a minute: nothing refilled
    assert not budget.take()
    now[0] = 21.0
    assert budget.take() and not budget.take() and budget.denied == 1
    now[0] = 3600.0  # refilled to the burst, never past it
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
