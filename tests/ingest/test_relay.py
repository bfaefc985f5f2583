"""The relay: wire-compatible with Yunpian, so apps and the official SDK change only the host."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session
from yunpian_python_sdk.ypclient import YunpianClient

from ingest.store.models import Report, Send
from ingest.store.writes import code_digest
from tests.servers import free_port, wait_until


def sends(engine) -> list[Send]:
    with Session(engine) as session:
        return list(session.scalars(select(Send).order_by(Send.id)))


def stored(engine, count: int, timeout: float = 10.0) -> list[Send]:
    """The sends once `count` are stored: the relay stores them after answering."""
    return wait_until(lambda: len(found := sends(engine)) >= count and found, timeout)


def sdk(host: str, apikey: str) -> YunpianClient:
    return YunpianClient(apikey, {"yp.voice.host": host})


def test_official_sdk_sends_through_the_relay_and_the_send_is_recorded(
    simulator, make_ingest, engine, settings
):
    relay = make_ingest(voice_url=simulator.url)
    result = (
        sdk(relay.url, simulator.apikey).voice().send({"mobile": "15205201314", "code": "2468"})
    )
    assert result.code() == 0, result.msg()
    [send] = stored(engine, 1)
    assert send.sid == result.data()["sid"] and send.source == "relay" and send.result_code == 0
    assert send.fee == 1 and send.code_digest == code_digest(
        settings.digest_key, "15205201314", "2468"
    )
    assert "2468" not in repr([getattr(send, c.key) for c in Send.__table__.columns])


def test_relay_returns_upstream_errors_unchanged_and_records_them(simulator, make_ingest, engine):
    relay = make_ingest(voice_url=simulator.url)
    form = {"apikey": simulator.apikey, "mobile": "15205201314", "code": "12"}
    direct = httpx.post(f"{simulator.url}/v2/voice/send.json", data=form)
    relayed = httpx.post(f"{relay.url}/v2/voice/send.json", data=form)
    assert (
        (relayed.status_code, relayed.content)
        == (direct.status_code, direct.content)
        == (400, direct.content)
    )
    assert relayed.headers["content-type"] == direct.headers["content-type"]
    assert [(s.result_code, s.http_status, s.sid) for s in stored(engine, 1)] == [(2, 400, None)]


def test_unreachable_upstream_answers_in_yunpians_format_and_is_recorded_as_not_sent(
    make_ingest, engine
):
    relay = make_ingest(voice_url=f"http://127.0.0.1:{free_port()}")
    answer = httpx.post(
        f"{relay.url}/v2/voice/send.json",
        data={"apikey": "k" * 32, "mobile": "15205201314", "code": "1234"},
    )
    body = answer.json()
    assert answer.status_code == 502 and body["code"] == -50 and "unreachable" in body["detail"]
    assert "k" * 32 not in answer.text
    [send] = stored(engine, 1)
    assert (send.result_code, send.http_status, send.state) == (-50, None, "not sent")


def test_relay_token_is_required_when_configured(simulator, make_ingest, engine):
    relay = make_ingest(voice_url=simulator.url, relay_token="relay-s3cret")
    refused = (
        sdk(relay.url, simulator.apikey).voice().send({"mobile": "15205201314", "code": "2468"})
    )
    assert refused.code() == -3
    accepted = (
        sdk(f"{relay.url}/relay/relay-s3cret", simulator.apikey)
        .voice()
        .send({"mobile": "15205201314", "code": "2468"})
    )
    assert accepted.code() == 0
    assert [s.result_code for s in stored(engine, 1)] == [0]


def test_pulling_through_the_relay_keeps_a_copy_of_the_reports(simulator, make_ingest, engine):
    relay = make_ingest(voice_url=simulator.url)
    client = sdk(relay.url, simulator.apikey).voice()
    sid = client.send({"mobile": "15205201314", "code": "2468"}).data()["sid"]
    simulator.clock.advance(120)
    pulled = client.pull_status({"page_size": "20"})
    assert [r["sid"] for r in pulled.data()] == [sid]

    def reports() -> list[str]:
        with engine.connect() as connection:
            return list(connection.scalars(select(Report.sid)))

    assert wait_until(reports) == [sid]
