"""Any bytes and any headers into the real push receiver and relay: a clear 4xx or a stored
record out, never a 500, never a partial write."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ingest.service.http_edge import REFUSED_HEAD
from ingest.service.push import MAX_PUSH_REPORTS
from ingest.service.relay import MAX_RELAY_BODY
from ingest.store.models import RawBody, Report, Send
from ingest.yunpian.reports import parse_push_form
from tests.reliability.support import metric
from tests.servers import wait_until

FORM_TYPE = "application/x-www-form-urlencoded"
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Header names and values HTTP allows (RFC 9110 field-vchar and obs-text: no CR/LF, no DEL,
# which uvicorn's parser refuses before the app sees a request), hop-by-hop ones left out.
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name.lower() not in ("content-length", "transfer-encoding", "host", "connection")
)
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
).map(
    lambda value: value.strip(" \t").encode("latin-1")  # bytes: sent as they are
)
content_types = st.one_of(
    st.sampled_from(
        [FORM_TYPE, f"{FORM_TYPE};charset=utf-8", "application/json", "text/plain", ""]
    ),
    header_values,
)
texts = st.text(max_size=80)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
china_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
)
reports = st.fixed_dictionaries(
    {},
    optional={
        "sid": st.one_of(st.uuids().map(lambda u: u.hex), scalars, st.text(min_size=60)),
        "mobile": st.one_of(st.from_regex(r"1[3-9]\d{9}", fullmatch=True), scalars),
        "report_status": st.one_of(st.sampled_from(["SUCCESS", "FAIL"]), scalars),
        "user_receive_time": st.one_of(china_times, scalars),
        "duration": st.one_of(st.integers(min_value=-5, max_value=10**20), scalars),
        "error_msg": scalars,
        "uid": st.one_of(scalars, st.text(min_size=60, max_size=70)),
    },
)
push_bodies = st.one_of(
    st.binary(max_size=3000),
    st.lists(reports, max_size=5).map(
        lambda items: urlencode({"voice_status": json.dumps(items)}).encode()
    ),
    st.lists(st.tuples(texts, texts), max_size=5).map(lambda pairs: urlencode(pairs).encode()),
)


def counts(engine) -> tuple[int, set[str]]:
    with engine.connect() as connection:
        raw = connection.execute(select(func.count()).select_from(RawBody)).scalar_one()
        return raw, set(connection.scalars(select(Report.sid)))


def valid_report(sid: str) -> dict[str, object]:
    return {
        "sid": sid,
        "uid": None,
        "user_receive_time": "2024-05-14 14:00:12",
        "duration": 10,
        "error_msg": None,
        "mobile": "15205201314",
        "report_status": "SUCCESS",
    }


@pytest.fixture
def push_service(make_ingest):
    # Every refusal kept: this test counts them (the per-minute budget is test_edge_abuse's).
    service = make_ingest(push_max_bytes=64 * 1024, refused_per_minute=10**9)
    http = httpx.Client(base_url=service.url, timeout=10)
    yield http
    http.close()


@PROPERTY
@given(
    body=push_bodies,
    content_type=content_types,
    extra=st.dictionaries(header_names, header_values, max_size=4),
)
@example(body=b"voice_status=" + b"%5B" * 50_000, content_type=FORM_TYPE.encode(), extra={})
@example(body=b"voice_status=" + b"9" * 5000, content_type=FORM_TYPE.encode(), extra={})
@example(
    body=urlencode({"voice_status": json.dumps([valid_report("a\x00b")])}).encode(),
    content_type=FORM_TYPE.encode(),
    extra={},
)
@example(
    body=urlencode(
        {"voice_status": json.dumps([{**valid_report("long"), "duration": 3 * 10**9}])}
    ).encode(),
    content_type=FORM_TYPE.encode(),
    extra={},
)
@example(body=b"voice_status=%5B%5D", content_type=FORM_TYPE.encode() + b";" + b"x" * 200, extra={})
def test_any_push_gets_a_4xx_or_its_good_reports_stored(
    push_service, engine, body, content_type, extra
):
    raw_before, sids_before = counts(engine)
    headers = {**extra, "content-type": content_type}
    answer = push_service.post("/push/voice", content=body, headers=headers)
    raw_after, sids_after = counts(engine)

    assert answer.status_code in (200, 400, 413, 415), (answer.status_code, answer.text)
    assert raw_after == raw_before + 1  # every push is kept, exactly once
    if answer.status_code == 200:
        assert answer.text == "SUCCESS"
        parsed = parse_push_form(body)
        assert {report.sid for report in parsed.reports} <= sids_after
        with engine.connect() as connection:
            status = connection.scalar(select(RawBody.parse_status).order_by(RawBody.id.desc()))
        assert status == ("quarantined" if parsed.refused else "ok")
    else:
        assert answer.text and sids_after == sids_before


def test_push_at_the_size_limit_is_stored_and_one_byte_more_is_refused(make_ingest, engine):
    limit = 4096
    service = make_ingest(push_max_bytes=limit)
    body = urlencode({"voice_status": json.dumps([valid_report("at-limit")])}).encode()
    at_limit = body + b"&pad=" + b"x" * (limit - len(body) - 5)
    assert len(at_limit) == limit
    over = at_limit + b"x"

    stored = httpx.post(
        f"{service.url}/push/voice", content=at_limit, headers={"content-type": FORM_TYPE}
    )
    refused = httpx.post(
        f"{service.url}/push/voice", content=over, headers={"content-type": FORM_TYPE}
    )

    assert (stored.status_code, refused.status_code) == (200, 413)
    with engine.connect() as connection:
        kept = list(connection.execute(select(RawBody).order_by(RawBody.id)))
    assert [(r.parse_status, r.truncated, len(r.body)) for r in kept] == [
        ("ok", False, limit),
        ("rejected", True, REFUSED_HEAD),  # a refused body keeps its head only
    ]
    assert counts(engine)[1] == {"at-limit"}


def test_push_of_the_most_reports_is_stored_and_one_more_is_refused_whole(make_ingest, engine):
    service = make_ingest()

    def push(count: int) -> httpx.Response:
        items = [valid_report(uuid.uuid4().hex) for _ in range(count)]
        body = urlencode({"voice_status": json.dumps(items)}).encode()
        return httpx.post(
            f"{service.url}/push/voice", content=body, headers={"content-type": FORM_TYPE}
        )

    refused = push(MAX_PUSH_REPORTS + 1)
    assert refused.status_code == 400 and f"at most {MAX_PUSH_REPORTS}" in refused.text
    assert counts(engine) == (1, set())
    assert push(MAX_PUSH_REPORTS).status_code == 200
    assert len(counts(engine)[1]) == MAX_PUSH_REPORTS


@pytest.fixture
def relay(simulator, make_ingest):
    return make_ingest(voice_url=simulator.url)


relay_forms = st.fixed_dictionaries(
    {},
    optional={
        "apikey": st.one_of(st.just("SIMULATOR"), texts),
        "mobile": st.one_of(st.from_regex(r"1[3-9]\d{9}", fullmatch=True), texts),
        "code": st.one_of(st.from_regex(r"\d{4,6}", fullmatch=True), texts),
        "callback_url": texts,
        "display_num": st.text(max_size=60),
        "uid": st.text(max_size=100),
        "tpl_id": texts,
        "tpl_value": texts,
    },
)


@PROPERTY
@given(
    endpoint=st.one_of(
        st.sampled_from(["send.json", "tpl_notify.json", "pull_status.json"]),
        st.from_regex(r"[a-z_]{1,20}(\.json)?", fullmatch=True),
    ),
    form=relay_forms,
    raw=st.one_of(st.none(), st.binary(max_size=2000)),
    content_type=content_types,
    extra=st.dictionaries(header_names, header_values, max_size=4),
)
@example(
    endpoint="send.json",
    form={"apikey": "SIMULATOR", "mobile": "1\x00" * 40, "code": "1234", "uid": "u" * 100},
    raw=None,
    content_type=FORM_TYPE.encode(),
    extra={"x-voicewatch-actor": b"a" * 300},
)
def test_any_relayed_call_is_answered_without_a_500_and_recorded_once(
    simulator, relay, engine, endpoint, form, raw, content_type, extra
):
    form = {k: simulator.apikey if v == "SIMULATOR" else v for k, v in form.items()}
    body = raw if raw is not None else urlencode(form).encode()
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Send)).scalar_one()
    answer = httpx.post(
        f"{relay.url}/v2/voice/{endpoint}",
        content=body,
        headers={**extra, "content-type": content_type},
        timeout=10,
    )

    def stored() -> int:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Send)).scalar_one()

    assert answer.status_code < 500, (answer.status_code, answer.text)
    assert isinstance(answer.json(), dict | list)  # Yunpian's format, whoever answered
    records_sends = endpoint in ("send.json", "tpl_notify.json") and len(body) <= MAX_RELAY_BODY
    # The relay answers first and stores the send after (its outbox).
    if records_sends:
        wait_until(lambda: stored() > before)
    assert stored() == before + (1 if records_sends else 0)
    metrics = httpx.get(f"{relay.url}/metrics").text
    assert metric(metrics, "voicewatch_store_errors_total") == 0
