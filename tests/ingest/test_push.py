"""The push receiver: Yunpian's format in, SUCCESS out; anything else refused and kept."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from ingest.store.models import RawBody, Report
from tests.ingest.test_reports import REFERENCE_EXAMPLE

FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD_BODY = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()


def inbox(engine) -> list[RawBody]:
    with engine.connect() as connection:
        return list(connection.execute(select(RawBody).order_by(RawBody.id)))


def sids(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(Report.sid)))


def test_valid_push_is_stored_then_acknowledged_with_success(make_ingest, engine):
    service = make_ingest()
    answer = httpx.post(f"{service.url}/push/voice", content=GOOD_BODY, headers=FORM)
    assert (answer.status_code, answer.text) == (200, "SUCCESS")
    assert sids(engine) == {"6e77feeab89f445387308db604e2ec8d", "3375655611"}
    [raw] = inbox(engine)
    assert (raw.body, raw.parse_status, raw.report_count) == (GOOD_BODY, "ok", 2)


def test_same_push_twice_is_stored_once_and_counted_as_duplicate(make_ingest, engine):
    service = make_ingest()
    for _ in range(2):
        assert (
            httpx.post(f"{service.url}/push/voice", content=GOOD_BODY, headers=FORM).text
            == "SUCCESS"
        )
    assert len(sids(engine)) == 2
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'voicewatch_report_duplicates_total{channel="push"} 2.0' in metrics
    assert 'voicewatch_reports_stored_total{channel="push"} 2.0' in metrics


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (
            json.dumps({"voice_status": []}).encode(),
            {"content-type": "application/json"},
            415,
            "form-urlencoded",
        ),
        (b"voice_status=not-json", FORM, 400, "not JSON"),
        (b"status=%5B%5D", FORM, 400, "no voice_status"),
        (b"voice_status=%7B%7D", FORM, 400, "expected a JSON array"),
    ],
)
def test_malformed_pushes_get_a_4xx_with_the_reason_and_are_kept(
    make_ingest, engine, body, headers, status, reason
):
    service = make_ingest()
    answer = httpx.post(f"{service.url}/push/voice", content=body, headers=headers)
    assert answer.status_code == status and reason in answer.text
    [raw] = inbox(engine)
    assert (
        raw.body == body
        and raw.parse_status in ("malformed", "rejected")
        and reason in raw.parse_error
    )
    assert sids(engine) == set()


def test_oversized_push_is_refused_without_reading_it_all(make_ingest, engine):
    service = make_ingest(push_max_bytes=1024)
    huge = b"voice_status=" + b"%5B" * 200_000

    def chunks():
        for start in range(0, len(huge), 4096):
            yield huge[start : start + 4096]

    answer = httpx.post(f"{service.url}/push/voice", content=chunks(), headers=FORM)
    assert answer.status_code == 413
    [raw] = inbox(engine)
    assert raw.truncated and len(raw.body) == 1024 and raw.parse_status == "rejected"


@pytest.mark.parametrize(("query", "status"), [("", 401), ("?token=wrong", 403)])
def test_push_without_the_right_token_is_refused_and_kept(make_ingest, engine, query, status):
    service = make_ingest(push_token="s3cret-token")
    answer = httpx.post(f"{service.url}/push/voice{query}", content=GOOD_BODY, headers=FORM)
    assert answer.status_code == status
    assert sids(engine) == set()
    [raw] = inbox(engine)
    assert raw.parse_status == "rejected" and raw.body == GOOD_BODY
    assert "s3cret-token" not in (raw.parse_error or "") and "s3cret-token" not in answer.text


def test_push_with_the_right_token_is_stored(make_ingest, engine):
    service = make_ingest(push_token="s3cret-token")
    answer = httpx.post(
        f"{service.url}/push/voice?token=s3cret-token", content=GOOD_BODY, headers=FORM
    )
    assert answer.text == "SUCCESS" and len(sids(engine)) == 2


def test_health_and_metrics_answer(make_ingest):
    service = make_ingest()
    assert httpx.get(f"{service.url}/healthz").json()["status"] == "ok"
    assert "voicewatch_pull_lag_seconds" in httpx.get(f"{service.url}/metrics").text
