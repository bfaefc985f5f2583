"""Sends of unknown outcome: stored apart from accepted and rejected, joined by number and time
to their report, shown as such by `voicewatch lookup`; the outbox that holds them before the
database has them; and migration 0004 that lets a send have no result code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dashboard import queries
from dashboard.queries._sql import Filters
from ingest.lookup_view import render_lookup
from ingest.store.engine import current_revision, make_engine, upgrade
from ingest.store.models import Send, TrafficMinute
from ingest.store.outbox import RelayOutbox, send_from_payload, send_payload, store_send_once
from ingest.store.unknown_sends import join_unknown_sends
from ingest.store.upserts import store_reports
from ingest.yunpian.reports import Report as ReportRecord

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
MOBILE = "15205201314"


def a_send(at: datetime, result_code: int | None, mobile: str = MOBILE, **fields) -> Send:
    values = {
        "sent_at": at,
        "mobile": mobile,
        "code_digest": f"digest-{at.isoformat()}",
        "result_code": result_code,
        "result_msg": "outcome unknown: no answer (ReadTimeout)" if result_code is None else "OK",
        "fee": 0.0,
        "count": 0,
        "source": "relay",
        "carrier": "",
        "province": "",
    }
    return Send(**(values | fields))


def stored(engine) -> list[Send]:
    with Session(engine) as session:
        return list(session.scalars(select(Send).order_by(Send.sent_at)))


def reports(engine, *found: tuple[str, str, datetime]) -> None:
    records = [
        ReportRecord(sid, mobile, "FAIL", at, duration=0, error_msg="未接")
        for sid, mobile, at in found
    ]
    store_reports(engine, records, "push")


def test_unknown_sends_join_the_earliest_reports_in_their_windows_oldest_first(engine):
    store_send_once(engine, a_send(T0 - timedelta(hours=1), 0, sid="old", fee=0.05))
    store_send_once(engine, a_send(T0, None))
    store_send_once(engine, a_send(T0 + timedelta(seconds=30), None))
    store_send_once(engine, a_send(T0, None, mobile="15205201399"))
    reports(
        engine,
        ("second", MOBILE, T0 + timedelta(minutes=2)),
        ("first", MOBILE, T0 + timedelta(minutes=1)),
        ("late", "15205201399", T0 + timedelta(minutes=11)),  # outside the 10 min window
    )

    assert join_unknown_sends(engine, T0 + timedelta(minutes=5)) == 2
    found = {(s.mobile, s.sent_at): s for s in stored(engine)}
    first, second = found[(MOBILE, T0)], found[(MOBILE, T0 + timedelta(seconds=30))]
    assert (first.sid, first.state, first.fee) == ("first", "accepted (joined)", 0.05)
    assert (second.sid, second.state) == ("second", "accepted (joined)")
    assert found[("15205201399", T0)].state == "unknown"
    # Joined sends count as accepted in the rollups; the unknown one in neither column.
    with engine.connect() as connection:
        sums = connection.execute(
            select(
                func.sum(TrafficMinute.sends),
                func.sum(TrafficMinute.accepted),
                func.sum(TrafficMinute.rejected),
                func.sum(TrafficMinute.fees),
            )
        ).one()
    assert tuple(sums[:3]) == (4, 3, 0) and sums[3] == pytest.approx(0.15)


def test_a_joined_fee_is_one_when_no_accepted_send_shows_the_usual(engine):
    store_send_once(engine, a_send(T0, None))
    reports(engine, ("s1", MOBILE, T0 + timedelta(seconds=50)))
    join_unknown_sends(engine, T0 + timedelta(minutes=1))
    [send] = stored(engine)
    assert (send.sid, send.fee, send.count, send.joined_at) == (
        "s1",
        1.0,
        1,
        T0 + timedelta(minutes=1),
    )


def test_lookup_shows_unknown_and_joined_sends_as_such(engine, db_url, monkeypatch):
    store_send_once(engine, a_send(T0, None))
    store_send_once(engine, a_send(T0 + timedelta(minutes=30), None))
    reports(engine, ("s1", MOBILE, T0 + timedelta(seconds=50)))
    join_unknown_sends(engine, T0 + timedelta(minutes=31))
    text_out = render_lookup(engine, MOBILE)
    lines = text_out.splitlines()
    assert "unknown" in lines[1] and "may have been placed" in lines[1]
    assert any("accepted (joined)" in line and "sid=s1" in line for line in lines)
    assert "rejected" not in text_out


def test_a_send_is_stored_once_however_often_the_outbox_hands_it_over(engine, tmp_path):
    outbox = RelayOutbox(tmp_path / "outbox")
    entry = outbox.keep("send", send_payload(a_send(T0, None)))
    outbox.close()
    [waiting] = RelayOutbox(tmp_path / "outbox").waiting()  # survives a restart
    assert waiting == entry
    for _ in range(2):
        store_send_once(engine, send_from_payload(waiting.payload))
    [send] = stored(engine)
    assert (send.sent_at, send.state) == (T0, "unknown")


def test_migration_0004_keeps_sends_and_their_rollups_and_unknowns_old_lost_answers(db_url):
    engine = make_engine(db_url, migrate=False)
    upgrade(engine, "0002")
    old_rows = [  # as older versions stored them: (code, http status, msg, detail)
        (0, 200, "OK", None),
        (-50, None, "未知异常", "voicewatch relay: upstream unreachable (ReadTimeout)"),
        (-50, None, "http://y/v2/voice/send.json unreachable: RemoteProtocolError", None),
        (-50, 200, "malformed answer: not JSON (Expecting value)", "body starts '<html>'"),
        (-50, None, "未知异常", "voicewatch relay: upstream unreachable (ConnectError)"),
        (-50, 413, "malformed answer: not JSON (Expecting value)", "body starts '<html>'"),
        (8, 400, "同一号码限制", None),
    ]
    with engine.begin() as connection:
        for minute, (code, status, msg, detail) in enumerate(old_rows):
            connection.execute(
                text(
                    "INSERT INTO sends (sent_at, mobile, code_digest, kind, result_code, "
                    "result_msg, result_detail, http_status, fee, count, source, carrier, "
                    "province) VALUES (:at, :m, 'd', 'code', :code, :msg, :detail, :status, "
                    "0, 0, 'relay', '', '')"
                ),
                {
                    "at": f"2026-11-20 06:{minute:02d}:00.000000",
                    "m": MOBILE,
                    "code": code,
                    "msg": msg,
                    "detail": detail,
                    "status": status,
                },
            )
    upgrade(engine, "0004")
    assert current_revision(engine) == "0004"
    assert [s.state for s in stored(engine)] == [
        "accepted",
        "unknown",
        "unknown",
        "unknown",
        "not sent",
        "rejected",
        "rejected",
    ]
    store_send_once(engine, a_send(T0 + timedelta(minutes=30), None))
    with engine.connect() as connection:
        sends, accepted, rejected = connection.execute(
            select(
                func.sum(TrafficMinute.sends),
                func.sum(TrafficMinute.accepted),
                func.sum(TrafficMinute.rejected),
            )
        ).one()
    assert (sends, accepted, rejected) == (8, 1, 3)
    engine.dispose()


def test_the_lookup_page_timeline_tells_unknown_from_refused(engine):
    store_send_once(engine, a_send(T0, None))
    store_send_once(engine, a_send(T0 + timedelta(minutes=1), 8, result_msg="同一号码限制"))
    timeline = queries.lookup_timeline(engine, MOBILE)
    assert list(timeline["send_state"]) == ["rejected", "unknown"]
    assert timeline["result"].iloc[1] == "unknown: may have been placed"
    assert timeline["result"].iloc[0].startswith("[8]")


def test_the_overview_counts_unknown_sends_apart_from_refusals(engine):
    store_send_once(engine, a_send(T0, None))
    store_send_once(engine, a_send(T0 + timedelta(minutes=1), 8, result_msg="同一号码限制"))
    period = Filters(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    volume = queries.volume_by_outcome(engine, period, "hour")
    assert dict(zip(volume["outcome"], volume["sends"], strict=True)) == {
        "unknown": 1,
        "throttled": 1,
    }
    kpis = queries.kpis(engine, period)
    assert (kpis.sends, kpis.accepted, kpis.rejected, kpis.unknown) == (2, 0, 1, 1)
