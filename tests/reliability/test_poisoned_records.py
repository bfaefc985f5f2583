"""One bad record stops nothing: poisoned reports among good ones, pushed and pulled, into a
real ingest service and a real pull loop on SQLite and PostgreSQL. The good reports are
stored, the body is kept quarantined with the reasons, and nothing waits or dies on it."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from ingest import pull
from ingest.store import upserts
from ingest.store.models import RawBody, Report
from ingest.store.spool import spool_for
from ingest.yunpian.client import VoiceClient
from tests.servers import ServerThread, wait_until

FORM = {"content-type": "application/x-www-form-urlencoded"}
# Values no column can hold, as JSON text (each goes into one report among good ones).
POISONS = {
    "lone surrogate in sid": '"sid": "bad\\ud800"',
    "lone surrogate in error_msg": '"error_msg": "\\udfff"',
    "NUL in error_msg": '"error_msg": "a\\u0000b"',
    "NUL in uid": '"uid": "\\u0000"',
    "sid too long": '"sid": "' + "s" * 300 + '"',
    "duration past 32 bits": '"duration": 4294967296',
    "duration past 64 bits": '"duration": 18446744073709551616',
    "integer of 5000 digits": '"duration": ' + "9" * 5000,
    "time out of range": '"user_receive_time": "0001-01-01 00:00:00"',
    "status not a string": '"report_status": {"a": 1}',
}


def good(sid: str, status: str = "SUCCESS") -> dict:
    return {
        "sid": sid,
        "uid": None,
        "user_receive_time": "2026-11-20 14:29:12",
        "duration": 10,
        "error_msg": None,
        "mobile": "15205201314",
        "report_status": status,
    }


def poisoned_array(goods: list[dict], poison: str) -> str:
    """A JSON array of `goods` with a report carrying `poison` in the middle."""
    bad = json.dumps(good("poisoned"))[:-1] + ", " + poison + "}"  # the last key wins
    items = [json.dumps(item) for item in goods]
    items.insert(len(items) // 2, bad)
    return "[" + ", ".join(items) + "]"


def stored(engine) -> dict[str, Report]:
    with engine.connect() as connection:
        return {row.sid: row for row in connection.execute(select(Report))}


def inbox(engine) -> list[RawBody]:
    with engine.connect() as connection:
        return list(connection.execute(select(RawBody).order_by(RawBody.id)))


# ------------------------------------------------------------------------------------ push


@pytest.mark.parametrize("poison", list(POISONS), ids=list(POISONS))
def test_push_with_a_poisoned_report_stores_the_others_and_quarantines_the_body(
    make_ingest, engine, poison
):
    service = make_ingest()
    goods = [good(uuid.uuid4().hex) for _ in range(20)] + [good("new-status", "UNREACHABLE")]
    body = urlencode({"voice_status": poisoned_array(goods, POISONS[poison])}).encode()

    answers = [
        httpx.post(f"{service.url}/push/voice", content=body, headers=FORM, timeout=30)
        for _ in range(2)  # Yunpian's retry gets the same answer
    ]

    assert [(a.status_code, a.text) for a in answers] == [(200, "SUCCESS")] * 2
    rows = stored(engine)
    assert set(rows) == {item["sid"] for item in goods}
    assert rows["new-status"].status == "UNREACHABLE"  # stored as it came
    kept = inbox(engine)
    assert [(r.body, r.parse_status, r.report_count) for r in kept] == [
        (body, "quarantined", 21)
    ] * 2
    assert kept[0].parse_error.startswith("1 of 22 reports refused: report #10: ")


def test_five_hundred_reports_with_one_unknown_status_are_all_stored(make_ingest, engine):
    service = make_ingest()
    items = [good(uuid.uuid4().hex) for _ in range(500)]
    items[250] = good("odd", "PENDING_RETRY") | {"carrier_code": 7}  # and a new field
    body = urlencode({"voice_status": json.dumps(items)}).encode()
    answer = httpx.post(f"{service.url}/push/voice", content=body, headers=FORM, timeout=30)
    assert (answer.status_code, answer.text) == (200, "SUCCESS")
    assert len(stored(engine)) == 500 and stored(engine)["odd"].status == "PENDING_RETRY"
    [raw] = inbox(engine)
    assert (raw.parse_status, raw.report_count) == ("ok", 500)


def test_double_encoded_push_is_decoded_once_more_and_stored(make_ingest, engine):
    # Yunpian's push document: "部分语言由于解码方式差异需要解码两次"
    # (../shared/yunpian-voice-api.md, Push): the value may still be URL-encoded once decoded.
    service = make_ingest()
    text = json.dumps([good("twice-encoded") | {"mobile": "+37258483726"}])
    body = ("voice_status=" + quote(quote(text, safe=""), safe="")).encode()
    answer = httpx.post(f"{service.url}/push/voice", content=body, headers=FORM)
    assert (answer.status_code, answer.text) == (200, "SUCCESS")
    assert stored(engine)["twice-encoded"].mobile == "+37258483726"


def test_poisoned_pushers_do_not_slow_valid_pushes(make_ingest, engine):
    service = make_ingest()
    poison = urlencode(
        {"voice_status": poisoned_array([good("p")], POISONS["lone surrogate in sid"])}
    ).encode()
    stop = threading.Event()
    poisoned_answers: list[int] = []

    def poisoner() -> None:
        with httpx.Client(base_url=service.url, timeout=30) as http:
            while not stop.is_set():
                poisoned_answers.append(
                    http.post("/push/voice", content=poison, headers=FORM).status_code
                )

    pushers = [threading.Thread(target=poisoner) for _ in range(3)]
    for thread in pushers:
        thread.start()
    times = []
    try:
        with httpx.Client(base_url=service.url, timeout=30) as http:
            for i in range(40):
                body = urlencode({"voice_status": json.dumps([good(f"valid-{i}")])}).encode()
                started = time.perf_counter()
                answer = http.post("/push/voice", content=body, headers=FORM)
                times.append(time.perf_counter() - started)
                assert answer.text == "SUCCESS"
    finally:
        stop.set()
        for thread in pushers:
            thread.join(30)
    assert poisoned_answers and set(poisoned_answers) == {200}
    assert {f"valid-{i}" for i in range(40)} <= set(stored(engine))
    # Before, each poisoned push failed its group three times with backoff (p50 ~1.2 s).
    assert statistics.median(times) < 0.5, times


@pytest.mark.slow
def test_a_huge_push_is_refused_at_the_report_limit_without_stalling_valid_ones(
    make_ingest, engine
):
    service = make_ingest(push_max_bytes=8 * 1024 * 1024)
    # The attack's shape: 75,000 small reports, sent as JSON a form decode leaves as it is.
    item = '{"sid":"s","mobile":"1","report_status":"FAIL"}'
    huge = ("voice_status=[" + ",".join([item] * 75_000) + "]").encode()
    assert len(huge) > 3.4 * 1024 * 1024
    stop = threading.Event()
    refusals: list[httpx.Response] = []

    def attacker() -> None:
        with httpx.Client(base_url=service.url, timeout=60) as http:
            while not stop.is_set():
                refusals.append(http.post("/push/voice", content=huge, headers=FORM))

    attackers = [threading.Thread(target=attacker) for _ in range(2)]
    for thread in attackers:
        thread.start()
    times = []
    try:
        wait_until(lambda: refusals, timeout=60)
        with httpx.Client(base_url=service.url, timeout=60) as http:
            for i in range(20):
                body = urlencode({"voice_status": json.dumps([good(f"ok-{i}")])}).encode()
                started = time.perf_counter()
                assert http.post("/push/voice", content=body, headers=FORM).text == "SUCCESS"
                times.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in attackers:
            thread.join(60)
    assert {r.status_code for r in refusals} == {400}
    assert "75000 reports in one push; at most 1000" in refusals[0].text
    # Parsed on the event loop, each huge push held every request ~0.2 s (p50 0.14 s here,
    # 0.4 s in the report); counted off the loop, p50 stays near that of an idle service.
    assert statistics.median(times) < 0.1, times


# ------------------------------------------------------------------------------------ pull


class PagesUpstream:
    """A Yunpian pull_status that hands out given pages once each, then empty pages."""

    def __init__(self, pages: list[bytes]) -> None:
        self.pages = list(pages)

        async def pull_status(request) -> Response:
            form = await request.form()
            body = self.pages.pop(0) if self.pages and form.get("type") == "1" else b"[]"
            return Response(body, media_type="application/json")

        routes = [Route("/v2/voice/pull_status.json", pull_status, methods=["POST"])]
        self.server = ServerThread(Starlette(routes=routes))


@pytest.fixture
def upstream():
    started: list[PagesUpstream] = []

    def start(pages: list[bytes]) -> PagesUpstream:
        fake = PagesUpstream(pages)
        fake.server.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.server.stop()


@pytest.mark.parametrize("poison", list(POISONS), ids=list(POISONS))
def test_pulled_page_with_a_poisoned_report_stores_the_others_and_the_loop_goes_on(
    upstream, engine, poison
):
    goods = [good(f"pulled-{i}") for i in range(99)]
    later = [good("next-run")]
    fake = upstream([poisoned_array(goods, POISONS[poison]).encode(), json.dumps(later).encode()])
    stop = threading.Event()
    with VoiceClient(fake.server.url, "test-apikey") as client:
        loop = threading.Thread(
            target=pull.run, args=(client, engine), kwargs={"interval": 0.05, "stop": stop}
        )
        loop.start()
        try:
            wait_until(lambda: "next-run" in stored(engine), timeout=30)
        finally:
            stop.set()
            loop.join(30)
    assert set(stored(engine)) == {item["sid"] for item in goods + later}
    statuses = [(r.parse_status, r.report_count) for r in inbox(engine) if r.body != b"[]"]
    assert statuses == [("quarantined", 99), ("ok", 1)]
    spool = spool_for(engine)
    assert spool is None or spool.waiting() == []


@pytest.mark.parametrize("poison", [*POISONS, "negative duration"])
def test_page_pulled_through_the_relay_with_a_poisoned_report_keeps_the_others(
    upstream, make_ingest, engine, poison
):
    goods = [good(f"relayed-{i}") for i in range(9)]
    body = poisoned_array(goods, POISONS.get(poison, '"duration": -1')).encode()
    fake = upstream([body])
    relay = make_ingest(voice_url=fake.server.url)

    answer = httpx.post(
        f"{relay.url}/v2/voice/pull_status.json",
        content=b"apikey=test-apikey&page_size=100&type=1",
        headers=FORM,
        timeout=30,
    )

    assert (answer.status_code, answer.content) == (200, body)  # the caller's page, unchanged
    # The relay stores what it pulled after answering.
    [raw] = wait_until(lambda: [r for r in inbox(engine) if r.parse_status != "pending"], 30)
    assert raw.parse_status == "quarantined"
    assert set(stored(engine)) == {item["sid"] for item in goods}
    assert (raw.body, raw.report_count) == (body, 9)
    assert raw.parse_error.startswith("1 of 10 reports refused: report #4: ")


def test_a_page_the_database_refuses_for_an_unknown_reason_is_quarantined_once(
    upstream, engine, monkeypatch
):
    # A refusal nobody has classified yet cannot be caused for real once validation holds:
    # the store is made to refuse one page, as a driver would for a value it cannot send.
    real = upserts.store_pages

    def refusing(engine_, pages, channel):
        if any(r.sid == "cursed" for page in pages for r in page[1]):
            raise ValueError("the driver cannot send this")
        return real(engine_, pages, channel)

    monkeypatch.setattr(pull, "store_pages", refusing)
    fake = upstream([json.dumps([good("cursed")]).encode(), json.dumps([good("fine")]).encode()])
    with VoiceClient(fake.server.url, "test-apikey") as client:
        pull.drain(client, engine)
        pull.drain(client, engine)
    assert set(stored(engine)) == {"fine"}
    cursed = [r for r in inbox(engine) if b"cursed" in r.body]
    assert [(r.parse_status, "ValueError" in r.parse_error) for r in cursed] == [
        ("quarantined", True)
    ]
    spool = spool_for(engine)
    assert spool is None or spool.waiting() == []


def test_a_spooled_page_an_older_version_could_not_store_no_longer_blocks_restarts(sqlite_url):
    from ingest.store.engine import make_engine

    engine = make_engine(sqlite_url)
    body = poisoned_array([good("kept-a"), good("kept-b")], POISONS["lone surrogate in sid"])
    spool_for(engine).keep(body.encode(), datetime(2026, 11, 20, 6, 0, tzinfo=UTC))
    assert pull.replay_spool(engine) == 2
    assert pull.replay_spool(engine) == 0
    assert set(stored(engine)) == {"kept-a", "kept-b"}
    [raw] = inbox(engine)
    assert raw.parse_status == "quarantined" and "lone surrogate" in raw.parse_error
    assert spool_for(engine).waiting() == []
    engine.dispose()


def test_the_pull_loop_outlives_a_failure_nobody_classified(upstream, engine, monkeypatch):
    # A bug of ours, not a fault of the upstream or the database: raised for real only by
    # code that does not exist yet, so one pull run is made to raise it.
    real, calls = pull._pull_once, []

    def failing_once(client, engine_, stop):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the pull run")
        return real(client, engine_, stop)

    monkeypatch.setattr(pull, "_pull_once", failing_once)
    fake = upstream([json.dumps([good("after-the-bug")]).encode()])
    stop = threading.Event()
    with VoiceClient(fake.server.url, "test-apikey") as client:
        loop = threading.Thread(
            target=pull.run, args=(client, engine), kwargs={"interval": 0.05, "stop": stop}
        )
        loop.start()
        try:
            wait_until(lambda: "after-the-bug" in stored(engine), timeout=30)
            assert loop.is_alive()
        finally:
            stop.set()
            loop.join(30)
