"""VOICEWATCH_RETENTION_DAYS: the pull loop purges older rows at start and every hour after."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ingest import pull
from ingest.store.models import PullRun, RawBody, Report
from ingest.yunpian.client import VoiceClient
from tests.fixtures.dashboard import add_rows, report_row, send_row
from tests.servers import wait_until


def old_and_new_rows(engine, age_days: int, tag: str) -> None:
    """A report, a raw body and a pull run `age_days` old; sids start with `tag`."""
    at = datetime.now(UTC) - timedelta(days=age_days)
    send = send_row("15205201314", at, sid=f"{tag}{age_days:04d}")
    add_rows(
        engine,
        reports=[report_row(send, "SUCCESS", 10, first_seen=at, last_seen=at)],
        raw=[
            {
                "received_at": at,
                "channel": "push",
                "content_type": "application/x-www-form-urlencoded",
                "body": b"voice_status=%5B%5D",
                "truncated": False,
                "parse_status": "ok",
                "report_count": 0,
            }
        ],
        pulls=[{"started_at": at, "finished_at": at, "pages": 1, "reports": 0}],
    )


def kept(engine) -> tuple[set[str], int, int]:
    with engine.connect() as connection:
        return (
            set(connection.scalars(select(Report.sid))),
            len(connection.execute(select(RawBody.id).where(RawBody.channel == "push")).all()),
            len(connection.execute(select(PullRun.id).where(PullRun.pages == 1)).all()),
        )


class FakeClock:
    """Monotonic seconds the test moves forward by hand (an hour passes in a call)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pull_loop_purges_old_rows_at_start_and_again_every_hour(simulator, engine, caplog):
    caplog.set_level(logging.DEBUG)  # empty drains log at DEBUG
    old_and_new_rows(engine, 40, "a")
    old_and_new_rows(engine, 1, "b")
    clock, stop = FakeClock(), threading.Event()
    client = VoiceClient(simulator.url, simulator.apikey)
    loop = threading.Thread(
        target=pull.run,
        args=(client, engine),
        kwargs={"interval": 0.05, "stop": stop, "retention_days": 30, "clock": clock},
    )
    loop.start()
    try:
        wait_until(lambda: kept(engine)[0] == {"b0001"}, timeout=10)
        assert kept(engine)[1:] == (1, 1)
        old_and_new_rows(engine, 31, "c")  # ages past the limit while the loop runs
        wait_until(lambda: "event=pull.drained" in caplog.text, timeout=10)
        assert "c0031" in kept(engine)[0]  # not purged again within the hour
        clock.now += 3600
        wait_until(lambda: kept(engine)[0] == {"b0001"}, timeout=10)
    finally:
        stop.set()
        loop.join(timeout=10)
        client.close()
    assert "event=retention.purged days=30" in caplog.text


def test_without_retention_nothing_is_purged(simulator, engine):
    old_and_new_rows(engine, 400, "a")
    with VoiceClient(simulator.url, simulator.apikey) as client:
        pull.run(client, engine, once=True)
    assert kept(engine) == ({"a0400"}, 1, 1)


def test_voicewatch_pull_purges_by_the_retention_setting(simulator, engine, db_url):
    old_and_new_rows(engine, 8, "a")
    old_and_new_rows(engine, 6, "b")
    env = os.environ | {
        "VOICEWATCH_DB": db_url,
        "YUNPIAN_VOICE_URL": simulator.url,
        "YUNPIAN_APIKEY": simulator.apikey,
        "VOICEWATCH_DIGEST_KEY": "retention",
        "VOICEWATCH_RETENTION_DAYS": "7",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "pull", "--once"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert kept(engine)[0] == {"b0006"}
    assert b"event=retention.purged days=7 raw_inbox=1 sends=0 reports=1 pull_runs=1" in done.stderr
