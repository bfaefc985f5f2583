"""An upstream that echoes the request back in encoded forms (percent-encoded, twice
percent-encoded, JSON \\u escapes, HTML entities) must not get the apikey, the code or the full
number into sends.result_msg/result_detail, nor into the logs, whether the send came through
the client (`voicewatch send`, the dashboard) or the relay."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.sending import send_and_record
from ingest.service.app import create_app
from ingest.settings import Secret, Settings
from ingest.store.engine import make_engine
from ingest.text import decoded
from ingest.yunpian.client import VoiceClient
from tests.reliability.support import dump_database
from tests.servers import ServerThread

APIKEY = "ZqX7apikeyNEVERshowMEk3y9W2v8T1u"
RELAY_TOKEN = "relayTOKENneverSHOWNz52"
MOBILE, CODE = "+8613811112222", "731904"


def _hide_last(value: str, how: str) -> str:
    """`value` with its last character in the encoded form `how`."""
    last = value[-1]
    hidden = {
        "percent": f"%{ord(last):02X}",
        "percent-twice": f"%25{ord(last):02X}",
        "json": f"\\u{ord(last):04x}",
        "entity": f"&#x{ord(last):x};",
    }[how]
    return value[:-1] + hidden


ENCODINGS = ("percent", "percent-twice", "json", "entity")


def echoing_upstream(how: str) -> Starlette:
    """Answers every send with a Yunpian-shaped error quoting the request, encoded as `how`."""

    async def answer(request: Request) -> Response:
        form = await request.form()
        number = form["mobile"].replace("+", "%2B" if how != "percent-twice" else "%252B")
        echo = (
            f"apikey={_hide_last(form['apikey'], how)}&mobile={number}"
            f'&code={_hide_last(form["code"], how)} {{"code": "{_hide_last(form["code"], how)}"}}'
        )
        quoted = f"bad request: {echo}"
        body = json.dumps({"http_status_code": 400, "code": 2, "msg": quoted, "detail": echo})
        return Response(body, status_code=400, media_type="application/json")

    return Starlette(routes=[Route("/v2/voice/{endpoint}", answer, methods=["POST"])])


def _leaks(text: str) -> list[str]:
    """Which of the secrets `text` still shows, in whatever encoding it hides them."""
    plain = decoded(text)
    digits = re.sub(r"[^\d]", "", plain)
    found = [name for name, value in (("apikey", APIKEY), ("code", CODE)) if value in plain]
    return found + (["mobile"] if MOBILE[1:] in digits or MOBILE[3:] in plain else [])


@pytest.mark.parametrize("how", ENCODINGS)
def test_encoded_echo_is_stored_and_logged_scrubbed(tmp_path, caplog, how):
    engine = make_engine(f"sqlite:///{tmp_path / 'voicewatch.db'}")
    caplog.set_level(logging.INFO)
    with ServerThread(echoing_upstream(how)) as upstream:
        settings = Settings.from_env(
            {
                "VOICEWATCH_DB": str(engine.url),
                "YUNPIAN_APIKEY": APIKEY,
                "YUNPIAN_VOICE_URL": upstream.url,
                "VOICEWATCH_RELAY_TOKEN": RELAY_TOKEN,
                "VOICEWATCH_DIGEST_KEY": "echo-digest-key",
            },
            env_file=None,
        )
        with VoiceClient(upstream.url, Secret(APIKEY)) as client:
            outcome = send_and_record(
                client, engine, settings, MOBILE, CODE, source="cli", actor="tester"
            )
        assert not outcome.accepted
        with ServerThread(create_app(replace(settings), engine)) as ingest:
            relayed = httpx.post(
                f"{ingest.url}/relay/{RELAY_TOKEN}/v2/voice/send.json",
                data={"apikey": APIKEY, "mobile": MOBILE, "code": CODE},
                timeout=30,
            )
    assert relayed.status_code < 600
    stored = [
        (column, str(value))
        for name, column, value in dump_database(engine)
        if name == "sends" and column in ("result_msg", "result_detail") and value
    ]
    assert len(stored) >= 3, stored  # both sends have their answer stored
    assert {column: _leaks(value) for column, value in stored if _leaks(value)} == {}
    assert _leaks(caplog.text) == []
    assert _leaks(outcome.msg + " " + (outcome.detail or "")) == []
    engine.dispose()
