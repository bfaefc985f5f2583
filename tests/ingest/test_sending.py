"""Sends made by voicewatch itself (CLI, dashboard): recorded whatever Yunpian answers."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from ingest.sending import send_test_call
from ingest.settings import Secret
from ingest.store.models import Send
from tests.servers import free_port


def stored(engine) -> list[Send]:
    with engine.connect() as connection:
        return list(connection.execute(select(Send).order_by(Send.id)))


def test_accepted_and_refused_sends_are_both_recorded(simulator, engine, settings):
    settings = dataclasses.replace(
        settings, voice_url=simulator.url, apikey=Secret(simulator.apikey)
    )
    accepted = send_test_call(settings, engine, "15205201314", "2468", source="cli", actor="ann")
    refused = send_test_call(settings, engine, "15205201314", "2468", source="cli", actor="ann")
    assert accepted.accepted and accepted.sid and not refused.accepted and refused.result_code == 8
    rows = stored(engine)
    assert [(r.result_code, r.sid, r.fee, r.actor) for r in rows] == [
        (0, accepted.sid, 1, "ann"),
        (8, None, 0, "ann"),
    ]


def test_unanswered_send_is_recorded_as_unknown_error(engine, settings):
    settings = dataclasses.replace(settings, voice_url=f"http://127.0.0.1:{free_port()}")
    outcome = send_test_call(settings, engine, "15205201314", "2468", source="dashboard")
    assert (outcome.accepted, outcome.result_code) == (False, -50)
    [row] = stored(engine)
    assert (row.result_code, row.http_status) == (-50, None)


def test_push_token_in_the_callback_url_is_not_stored(simulator, engine, settings):
    settings = dataclasses.replace(
        settings,
        voice_url=simulator.url,
        apikey=Secret(simulator.apikey),
        push_token=Secret("push-s3cret"),
        callback_url="https://vw.example.com/push/voice?token=push-s3cret",
    )
    send_test_call(settings, engine, "15205201314", "2468", source="cli")
    [row] = stored(engine)
    assert row.callback_url == "https://vw.example.com/push/voice?token=***"
    assert simulator.world.calls()[0].push_url.endswith("token=push-s3cret")
