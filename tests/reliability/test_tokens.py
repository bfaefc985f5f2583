"""The push token and the relay token: the right one lets a caller in, nothing else does, and
the comparison is made by secrets.compare_digest (constant time)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import httpx
import pytest

import ingest.service.http_edge
from tests.ingest.test_reports import REFERENCE_EXAMPLE

FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD_BODY = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()
TOKEN = "push-T0ken-0123456789"
RELAY_TOKEN = "relay-T0ken-0123456789"
SEND = {"mobile": "15205201314", "code": "2468"}


@pytest.mark.parametrize(
    "query",
    [
        "?token=",
        f"?token={TOKEN[:-1]}",  # a prefix
        f"?token={TOKEN}x",  # longer
        f"?token={TOKEN[:-1]}X",  # last character wrong
        f"?token={TOKEN.upper()}",
        f"?Token={TOKEN}",  # another parameter
    ],
)
def test_push_with_any_other_token_is_refused(make_ingest, query):
    service = make_ingest(push_token=TOKEN)
    answer = httpx.post(f"{service.url}/push/voice{query}", content=GOOD_BODY, headers=FORM)
    assert answer.status_code in (401, 403) and TOKEN not in answer.text


def test_push_token_is_compared_in_constant_time(make_ingest, monkeypatch):
    compared = []
    compare_digest = secrets.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(ingest.service.http_edge.secrets, "compare_digest", spy)
    service = make_ingest(push_token=TOKEN)
    wrong = httpx.post(f"{service.url}/push/voice?token=guess", content=GOOD_BODY, headers=FORM)
    right = httpx.post(f"{service.url}/push/voice?token={TOKEN}", content=GOOD_BODY, headers=FORM)
    assert (wrong.status_code, right.status_code) == (403, 200)
    assert compared == [(TOKEN.encode(), b"guess"), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v2/voice/send.json", {}),
        ("/v2/voice/send.json", {"x-voicewatch-token": "wrong"}),
        ("/v2/voice/send.json", {"x-voicewatch-token": RELAY_TOKEN[:-1]}),
        ("/v2/voice/send.json", {"x-voicewatch-token": ""}),
        ("/v2/voice/send.json", {"authorization": f"Bearer {RELAY_TOKEN}"}),
        ("/relay/wrong/v2/voice/send.json", {}),
        (f"/relay/{RELAY_TOKEN}x/v2/voice/send.json", {}),
        ("/relay/wrong/v2/voice/pull_status.json", {"x-voicewatch-token": RELAY_TOKEN}),
    ],
)
def test_relay_refuses_a_missing_or_wrong_token_without_calling_upstream(
    simulator, make_ingest, path, headers
):
    relay = make_ingest(voice_url=simulator.url, relay_token=RELAY_TOKEN)
    answer = httpx.post(
        f"{relay.url}{path}", data={"apikey": simulator.apikey, **SEND}, headers=headers
    )
    assert answer.status_code == 403 and answer.json()["code"] == -3
    assert simulator.ground_truth() == {"calls": [], "rejected": []}


def test_relay_accepts_the_token_in_the_header(simulator, make_ingest):
    relay = make_ingest(voice_url=simulator.url, relay_token=RELAY_TOKEN)
    answer = httpx.post(
        f"{relay.url}/v2/voice/send.json",
        data={"apikey": simulator.apikey, **SEND},
        headers={"x-voicewatch-token": RELAY_TOKEN},
    )
    assert answer.status_code == 200 and len(simulator.ground_truth()["calls"]) == 1
