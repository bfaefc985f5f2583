"""The guard in the relay, end to end through the official SDK: pumping is refused in enforce
mode within a stated number of sends, only recorded in record-only mode, and a refused send is
recorded at no fee with an outcome support can read."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from yunpian_python_sdk.ypclient import YunpianClient

from ingest.guard.live import BLOCKED_CODE
from ingest.lookup_view import render_lookup
from ingest.store.models import GuardAttempt, Send
from tests.servers import wait_until

# Sequential numbers in one Sierra Leone range: the classic pumping pattern.
PUMPED = [f"+2327612{n:04d}" for n in range(20)]
# The rules are tested here, not the 50 ms budget: on a loaded machine a decision can miss
# it and the send goes out (tests/reliability/test_guard_fails_open.py).
BUDGET = 2.0
RANGE_LIMIT = 5  # the default range rule: at most 5 distinct numbers per 8-digit prefix in 10 min


def sdk(host: str, apikey: str) -> YunpianClient:
    return YunpianClient(apikey, {"yp.voice.host": host})


def sends(engine, count: int) -> list[Send]:
    def stored():
        with Session(engine) as session:
            found = list(session.scalars(select(Send).order_by(Send.id)))
        return len(found) >= count and found

    return wait_until(stored, 10)


def guard_attempts(engine) -> list[GuardAttempt]:
    """The guard's records: written after the decision, by a thread of its own."""
    with Session(engine) as session:
        return list(session.scalars(select(GuardAttempt).order_by(GuardAttempt.id)))


def guard_file(tmp_path: Path, mode: str) -> str:
    path = tmp_path / "guard.toml"
    path.write_text(f'[range]\nmode = "{mode}"\n[destination]\nmode = "off"\n')
    return str(path)


def pump(relay_url: str, apikey: str) -> list[int]:
    client = sdk(relay_url, apikey)
    return [
        client.voice().send({"mobile": mobile, "code": f"{1000 + i}"}).code()
        for i, mobile in enumerate(PUMPED)
    ]


def test_enforce_refuses_a_range_pumping_burst_after_the_limit_and_the_sdk_sees_a_refusal(
    simulator, make_ingest, engine, tmp_path
):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=guard_file(tmp_path, "enforce"), guard_budget=BUDGET
    )
    codes = pump(relay.url, simulator.apikey)
    assert codes[:RANGE_LIMIT] == [0] * RANGE_LIMIT
    assert codes[RANGE_LIMIT:] == [BLOCKED_CODE] * (len(PUMPED) - RANGE_LIMIT)
    stored = sends(engine, len(PUMPED))
    blocked = [s for s in stored if s.result_code == BLOCKED_CODE]
    assert len(blocked) == len(PUMPED) - RANGE_LIMIT
    assert {(s.fee, s.sid, s.http_status) for s in blocked} == {(0, None, 400)}
    assert blocked[0].result_msg == "blocked by guard: range velocity, enforce"
    assert [s.result_code for s in stored if s.sid] == [0] * RANGE_LIMIT
    metrics = httpx.get(f"{relay.url}/metrics").text
    blocked_metric = (
        'voicewatch_guard_decisions_total{mode="enforce",outcome="blocked",rule="range velocity"}'
    )
    assert f"{blocked_metric} {float(len(PUMPED) - RANGE_LIMIT)}" in metrics


def test_refusal_is_yunpians_shape_with_http_400(simulator, make_ingest, tmp_path):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=guard_file(tmp_path, "enforce"), guard_budget=BUDGET
    )
    pump(relay.url, simulator.apikey)
    answer = httpx.post(
        f"{relay.url}/v2/voice/send.json",
        data={"apikey": simulator.apikey, "mobile": "+23276120099", "code": "4321"},
    )
    body = answer.json()
    assert answer.status_code == 400
    assert body["code"] == BLOCKED_CODE and "guard" in body["msg"] and body["detail"]


def test_record_only_sends_everything_and_records_what_it_would_have_blocked(
    simulator, make_ingest, engine, tmp_path
):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=guard_file(tmp_path, "record-only"), guard_budget=BUDGET
    )
    codes = pump(relay.url, simulator.apikey)
    assert codes == [0] * len(PUMPED)
    attempts = wait_until(lambda: len(found := guard_attempts(engine)) == len(PUMPED) and found)
    would_block = [a for a in attempts if a.rule == "range velocity"]
    assert len(would_block) == len(PUMPED) - RANGE_LIMIT
    assert {(a.mode, a.passed) for a in would_block} == {("record-only", True)}


def test_lookup_explains_a_guard_refusal_in_words(simulator, make_ingest, engine, tmp_path):
    relay = make_ingest(
        voice_url=simulator.url, guard_path=guard_file(tmp_path, "enforce"), guard_budget=BUDGET
    )
    pump(relay.url, simulator.apikey)
    sends(engine, len(PUMPED))
    shown = render_lookup(engine, PUMPED[-1], unmask=True)
    assert "guard" in shown and "range velocity" in shown and "before it reached Yunpian" in shown
    assert "blocked by guard" in shown.splitlines()[1] and "nothing was charged" in shown
