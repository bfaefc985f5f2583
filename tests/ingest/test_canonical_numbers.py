"""One number, one history: every edge stores a number's canonical form beside what Yunpian
was sent, old rows get it in the migration, and lookups search on it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dashboard.queries import Filters, no_report_count
from dashboard.queries.lookup import accepted_history
from ingest.numbers import as_sent, canonical, partial_number
from ingest.sending import send_test_call
from ingest.settings import Secret
from ingest.store.engine import make_engine, upgrade
from ingest.store.lookup import candidates, lookup
from ingest.store.models import Report, Send
from ingest.store.upserts import store_reports
from ingest.store.writes import code_digest, record_send
from ingest.yunpian.reports import Report as ReportRecord
from tests.servers import wait_until

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WRITINGS = [
    "15231999867",
    "+8615231999867",
    "+86 152 3199 9867",
    "152 3199 9867",
    "152-3199-9867",
    "１５２３１９９９８６７",
    "008615231999867",
    "(+86) 152.3199.9867",
]


@pytest.mark.parametrize("written", WRITINGS)
def test_every_common_writing_of_a_number_has_one_canonical_form(written):
    assert canonical(written) == "+8615231999867"
    assert as_sent(written) == "15231999867"


@pytest.mark.parametrize("not_a_number", ["", "abc", "6e77feeab89f445387308db604e2ec8d", "1" * 41])
def test_text_that_is_no_number_has_no_canonical_form(not_a_number):
    assert canonical(not_a_number) is None


def a_send(mobile: str, at: datetime, sid: str | None) -> Send:
    return Send(
        sent_at=at,
        mobile=mobile,
        code_digest="d",
        result_code=0,
        fee=1,
        count=1,
        source="relay",
        sid=sid,
        carrier="",
        province="",
    )


def test_sends_and_reports_written_differently_are_one_history(engine):
    record_send(engine, a_send("15231999867", T0, "a1"))
    record_send(engine, a_send("+8615231999867", T0 + timedelta(minutes=1), "a2"))
    store_reports(
        engine,
        [ReportRecord("a2", "+86 152 3199 9867", "FAIL", T0, duration=0, error_msg="空号")],
        "push",
    )
    for written in [*WRITINGS, "A2"]:
        calls = lookup(engine, written)
        assert {c.send.sid for c in calls if c.send} >= {"a2"}, written
    assert len(lookup(engine, "152 3199 9867")) == 2
    # The throttle prediction sees both sends, whichever way the number is typed.
    assert len(accepted_history(engine, "+86 152-3199-9867", T0 + timedelta(minutes=5))) == 2


def test_a_partial_number_lists_every_stored_number_it_may_mean(engine):
    record_send(engine, a_send("15231999867", T0, "b1"))
    record_send(engine, a_send("15200009867", T0, "b2"))
    record_send(engine, a_send("15200009867", T0 + timedelta(minutes=1), "b3"))
    record_send(engine, a_send("13800009867", T0, "b4"))
    found = candidates(engine, partial_number("152****9867"))
    assert [(c.number, c.sends) for c in found] == [("+8615200009867", 2), ("+8615231999867", 1)]
    assert len(candidates(engine, partial_number("9867"))) == 3


def test_relay_and_push_store_the_canonical_number_beside_the_sent_form(
    simulator, make_ingest, engine
):
    relay = make_ingest(voice_url=simulator.url)
    form = {"apikey": simulator.apikey, "mobile": "+8615205201314", "code": "2468"}
    answer = httpx.post(f"{relay.url}/v2/voice/send.json", data=form).json()
    pushed = (
        '[{"sid":"p1","uid":null,"user_receive_time":"2026-11-20 14:00:30","duration":0,'
        '"error_msg":"无人接听","mobile":"15205201314","report_status":"FAIL"}]'
    )
    httpx.post(f"{relay.url}/push/voice", data={"voice_status": pushed})

    def stored():
        with Session(engine) as session:
            sends = session.scalars(select(Send)).all()
            reports = session.scalars(select(Report)).all()
            return sends and reports and (sends, reports)

    [send], [report] = wait_until(stored, timeout=10)
    assert (send.sid, send.mobile, send.number) == (
        answer["sid"],
        "+8615205201314",
        "+8615205201314",
    )
    assert (report.mobile, report.number) == ("15205201314", "+8615205201314")
    assert len(lookup(engine, "152 0520 1314")) == 2


def test_one_code_to_one_number_has_one_digest_however_the_number_is_written(
    simulator, make_ingest, engine, settings
):
    """The relay got `+86…`, the CLI `152…`: the same code to the same number must read as
    "same code again" to the throttle prediction and to Throttling's same-code count."""
    relay = make_ingest(voice_url=simulator.url)
    form = {"apikey": simulator.apikey, "mobile": "+8615205201314", "code": "2468"}
    assert httpx.post(f"{relay.url}/v2/voice/send.json", data=form).json()["sid"]
    wait_until(lambda: len(stored_sends(engine)) == 1, timeout=10)
    upstream = replace(settings, voice_url=simulator.url, apikey=Secret(simulator.apikey))
    send_test_call(upstream, engine, "15205201314", "2468", source="cli")
    digests = {send.code_digest for send in stored_sends(engine)}
    assert digests == {code_digest(settings.digest_key, "152-0520-1314", "2468")}


def stored_sends(engine) -> list[Send]:
    with Session(engine) as session:
        return list(session.scalars(select(Send)))


def test_migration_fills_in_the_canonical_number_of_older_rows(sqlite_url):
    engine = make_engine(sqlite_url, migrate=False)
    upgrade(engine, "0004")
    with engine.begin() as connection:
        for minute, mobile in enumerate(["15231999867", "+8615231999867", "not a number"]):
            connection.execute(
                text(
                    "INSERT INTO sends (sent_at, mobile, code_digest, kind, result_code, fee, "
                    "count, source, carrier, province) VALUES "
                    "(:at, :m, 'd', 'code', 0, 1, 1, 'relay', '', '')"
                ),
                {"at": f"2026-11-20 06:{minute:02d}:00.000000", "m": mobile},
            )
    upgrade(engine)
    with engine.connect() as connection:
        numbers = connection.execute(text("SELECT number FROM sends ORDER BY id")).scalars().all()
        traffic = connection.execute(text("SELECT SUM(sends) FROM traffic_days")).scalar()
    assert numbers == ["+8615231999867", "+8615231999867", "not a number"]
    assert traffic == 3  # the rollups are untouched by the backfill
    assert len(lookup(engine, "+86 152 3199 9867")) == 2


def test_no_report_counts_accepted_sends_with_no_report_after_the_set_time(engine):
    now = T0 + timedelta(hours=1)
    record_send(engine, a_send("15231999867", now - timedelta(minutes=30), "late"))
    record_send(engine, a_send("15231999867", now - timedelta(minutes=20), "answered"))
    record_send(engine, a_send("15231999867", now - timedelta(minutes=5), "recent"))
    store_reports(
        engine, [ReportRecord("answered", "15231999867", "SUCCESS", now, duration=9)], "pull"
    )
    assert no_report_count(engine, Filters(T0, now), now) == 1
    assert no_report_count(engine, Filters(T0, now), now, after=timedelta(minutes=1)) == 2
