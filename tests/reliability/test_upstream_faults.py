"""Yunpian answering 5xx, hanging, closing mid-body or answering non-JSON: voicewatch retries
only what is safe (pulls), never re-sends a call, records the attempt and reports the trouble."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.service.relay import METRIC_OUTCOMES, UNKNOWN_OUTCOME_CODE
from ingest.store.models import Send
from ingest.yunpian.client import MalformedAnswer, VoiceClient, YunpianError
from tests.reliability.support import MODES, metric
from tests.servers import free_port, wait_until

MOBILE = "15205201314"


def sends(engine) -> list[Send]:
    with Session(engine) as session:
        return list(session.scalars(select(Send).order_by(Send.id)))


def stored_sends(engine, count: int, timeout: float = 10.0) -> list[Send]:
    """The sends once `count` are stored: the relay stores them after answering."""
    return wait_until(lambda: len(found := sends(engine)) >= count and found, timeout)


@pytest.mark.parametrize("mode", MODES)
def test_client_send_reaches_a_failing_upstream_once(misbehaving, mode):
    upstream = misbehaving(mode)
    with (
        VoiceClient(upstream.url, "k" * 32, timeout=0.5, backoff=0.01) as client,
        pytest.raises(YunpianError),
    ):
        client.send(MOBILE, "2468")
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("mode", ["5xx", "hang", "close"])
def test_client_pull_retries_a_failing_upstream_then_gives_up(misbehaving, mode):
    upstream = misbehaving(mode)
    with (
        VoiceClient(upstream.url, "k" * 32, timeout=0.5, backoff=0.01, pull_retries=3) as client,
        pytest.raises(YunpianError),
    ):
        client.pull_status()
    assert len(upstream.requests) == 4


def test_client_pull_does_not_retry_an_answer_that_is_not_json(misbehaving):
    """A 200 may have handed reports out: repeating it would not bring them back."""
    upstream = misbehaving("not_json")
    with (
        VoiceClient(upstream.url, "k" * 32, backoff=0.01) as client,
        pytest.raises(MalformedAnswer),
    ):
        client.pull_status()
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("mode", "status", "code", "kind", "state"),
    [
        ("5xx", 500, -51, "5xx", "rejected"),
        ("hang", 202, UNKNOWN_OUTCOME_CODE, "timeout", "unknown"),
        ("close", 202, UNKNOWN_OUTCOME_CODE, "closed", "unknown"),
        ("not_json", 202, UNKNOWN_OUTCOME_CODE, "malformed", "unknown"),
    ],
)
def test_relay_sends_once_records_the_attempt_and_reports_the_trouble(
    misbehaving, make_ingest, engine, mode, status, code, kind, state
):
    """A send that reached Yunpian and lost its answer may ring: it is answered and stored
    as unknown, never as a refusal callers retry (-50), and within the relay's timeout."""
    upstream = misbehaving(mode)
    relay = make_ingest(voice_url=upstream.url, upstream_timeout=1)
    form = {"apikey": "k" * 32, "mobile": MOBILE, "code": "2468"}
    started = time.monotonic()
    answer = httpx.post(f"{relay.url}/v2/voice/send.json", data=form, timeout=30)

    assert time.monotonic() - started < 6
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert len(upstream.requests) == 1
    [send] = stored_sends(engine, 1)
    assert send.state == state and send.sid is None and send.fee == 0
    assert (send.result_code is None) == (state == "unknown")
    metrics = httpx.get(f"{relay.url}/metrics").text
    assert (
        metric(metrics, f'voicewatch_upstream_errors_total{{endpoint="send.json",kind="{kind}"}}')
        == 1
    )
    relay_sends = {
        outcome: metric(metrics, f'voicewatch_relay_sends_total{{outcome="{outcome}"}}')
        for outcome in ("accepted", "rejected", "unknown", "unreachable")
    }
    assert relay_sends == {o: float(o == METRIC_OUTCOMES[state]) for o in relay_sends}
    assert metric(metrics, "voicewatch_last_error_timestamp_seconds") > 0
    health = httpx.get(f"{relay.url}/healthz").json()
    assert health["status"] == "ok" and health["errors"]["upstream"] == 1
    assert health["last_error"]["what"] == "upstream.send.json"
    # The service keeps serving.
    assert httpx.get(f"{relay.url}/healthz").status_code == 200


def test_unreachable_upstream_is_not_sent_and_counted_once(make_ingest, engine):
    """Connection refused: the request never left, so -50 (retry is safe) and "not sent"."""
    relay = make_ingest(voice_url=f"http://127.0.0.1:{free_port()}")
    form = {"apikey": "k" * 32, "mobile": MOBILE, "code": "2468"}
    answer = httpx.post(f"{relay.url}/v2/voice/send.json", data=form, timeout=30)
    assert (answer.status_code, answer.json()["code"]) == (502, -50)
    [send] = stored_sends(engine, 1)
    assert send.state == "not sent"
    metrics = httpx.get(f"{relay.url}/metrics").text
    assert metric(metrics, 'voicewatch_relay_sends_total{outcome="unreachable"}') == 1
    assert metric(metrics, 'voicewatch_relay_sends_total{outcome="rejected"}') == 0


def test_relayed_sends_against_a_faulty_yunpian_place_at_most_one_call_each(
    make_simulator, make_ingest, engine
):
    """Ground truth: a relayed send answered 5xx placed no call, a garbled answer one call;
    whichever, the relay never places a second."""
    simulator = make_simulator(fault_5xx=0.3, fault_malformed=0.3)
    relay = make_ingest(voice_url=simulator.url)
    mobiles = [f"139{i:08d}" for i in range(60)]
    with httpx.Client(base_url=relay.url, timeout=10) as http:
        answers = [
            http.post(
                "/v2/voice/send.json",
                data={"apikey": simulator.apikey, "mobile": mobile, "code": "2468"},
            )
            for mobile in mobiles
        ]
    truth = simulator.ground_truth()
    calls = [call["mobile"] for call in truth["calls"]]
    assert len(calls) == len(set(calls)) and set(calls) <= set(mobiles)
    # Nor was any send repeated: a repeat within 30 s would be refused as a throttle (code 8).
    assert truth["rejected"] == []
    assert {answer.status_code for answer in answers} >= {200, 500}
    recorded = stored_sends(engine, len(mobiles))
    assert sorted(s.mobile for s in recorded) == mobiles
    # Every send the relay saw accepted is a call that happened, and so is every send whose
    # answer was garbled (recorded as unknown, not as a refusal).
    assert {s.sid for s in recorded if s.sid} <= {c["sid"] for c in truth["calls"]}
    unknown = {s.mobile for s in recorded if s.state == "unknown"}
    assert unknown and unknown <= set(calls)
    assert {a.status_code for a in answers if a.status_code == 202} == {202}


def test_client_sends_against_a_faulty_yunpian_place_at_most_one_call_each(make_simulator):
    simulator = make_simulator(fault_5xx=0.3, fault_malformed=0.3)
    mobiles = [f"137{i:08d}" for i in range(60)]
    with VoiceClient(simulator.url, simulator.apikey, backoff=0.01) as client:
        for mobile in mobiles:
            with contextlib.suppress(YunpianError):
                client.send(mobile, "2468")
    truth = simulator.ground_truth()
    calls = [call["mobile"] for call in truth["calls"]]
    assert len(calls) == len(set(calls)) and 0 < len(calls) < len(mobiles)
    assert truth["rejected"] == []
