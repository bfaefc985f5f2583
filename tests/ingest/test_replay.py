"""`voicewatch db replay`: bodies an older version refused, parsed again and stored once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlencode

from sqlalchemy import select

from ingest.replay import replay_inbox
from ingest.store.engine import make_engine
from ingest.store.inbox import MALFORMED, QUARANTINED, keep_raw
from ingest.store.models import RawBody, Report
from ingest.store.upserts import store_reports
from ingest.yunpian.reports import parse_push_form


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


def push_body(items: list) -> bytes:
    return urlencode({"voice_status": json.dumps(items)}).encode()


def rows(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(Report.sid, Report.deliveries)).all())


def inbox(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            select(RawBody.parse_status, RawBody.report_count).order_by(RawBody.id)
        ).all()


def test_a_push_an_older_rule_refused_whole_is_stored_once_replayed(engine):
    # Before this version, one unknown report_status made the whole push a 400, kept malformed.
    body = push_body([good("a"), good("b", "DELIVERED"), good("c")])
    keep_raw(engine, "push", body, status=MALFORMED, error="report #1: report_status 'DELIVERED'")
    keep_raw(engine, "pull", b"<html>502</html>", status=MALFORMED, error="not JSON")

    first = replay_inbox(engine)
    again = replay_inbox(engine)

    assert (first.bodies, first.new, first.ok, first.refused) == (2, 3, 1, 1)
    assert (again.bodies, again.new, again.ok, again.refused) == (1, 0, 0, 1)
    assert rows(engine) == {"a": 1, "b": 1, "c": 1}
    assert inbox(engine) == [("ok", 3), (MALFORMED, 0)]


def test_a_quarantined_body_keeps_its_stored_reports_as_they_are(engine):
    body = push_body([good("a"), good("bad") | {"duration": -1}])
    parsed = parse_push_form(body)
    raw_id = keep_raw(engine, "push", body)
    store_reports(engine, parsed.reports, "push", raw_id=raw_id, refused=parsed.reasons())
    assert inbox(engine) == [(QUARANTINED, 1)]

    result = replay_inbox(engine)

    assert (result.new, result.ok, result.refused) == (0, 0, 1)
    assert rows(engine) == {"a": 1}  # not counted as delivered twice
    assert inbox(engine) == [(QUARANTINED, 1)]


def test_db_replay_command_reports_what_it_stored(sqlite_url):
    engine = make_engine(sqlite_url)
    body = push_body([good("x", "NEW_STATUS"), good("y")])
    keep_raw(engine, "push", body, status=MALFORMED, error="report #0: report_status 'NEW_STATUS'")
    env = {**os.environ, "VOICEWATCH_DB": sqlite_url}
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "db", "replay"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "1 bodies parsed again: 2 reports stored, 1 bodies now ok" in done.stdout
    assert rows(engine) == {"x": 1, "y": 1}
    engine.dispose()
