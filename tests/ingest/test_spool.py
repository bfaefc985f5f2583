"""The pull spool beside a SQLite database: pulled bodies committed apart from the main
database's long write transactions, moved into the raw inbox with their reports, replayed
after a crash without counting anything twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from ingest import pull
from ingest.store.engine import make_engine
from ingest.store.models import RawBody, Report
from ingest.store.spool import SUFFIX, PullSpool, spool_for
from ingest.store.upserts import store_pages
from ingest.yunpian.client import VoiceClient, interpret_pull_answer

BODY = (
    b'[{"sid":"abc","uid":null,"user_receive_time":"2026-11-20 14:29:12","duration":10,'
    b'"error_msg":null,"mobile":"15205201314","report_status":"SUCCESS"}]'
)
RECEIVED = datetime(2026, 11, 20, 6, 29, 13, 123456, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'voicewatch.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def spool(engine) -> PullSpool:
    spool = spool_for(engine)
    assert spool is not None and spool.path.name == "voicewatch.db" + SUFFIX
    return spool


def inbox(engine) -> list[tuple]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(RawBody.received_at, RawBody.parse_status, RawBody.report_count)
            )
        )


def deliveries(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {sid: n for sid, n in connection.execute(select(Report.sid, Report.deliveries))}


def test_drain_moves_every_spooled_body_into_the_inbox(simulator, engine, spool):
    with VoiceClient(simulator.url, simulator.apikey) as client:
        sids = {client.send(f"1390000{i:04d}", "8642").sid for i in range(250)}
        simulator.clock.advance(120)
        result = pull.drain(client, engine)
    assert set(deliveries(engine)) == sids and result.new == 250
    # Voice codes in pages of 100, 100, 50; then one empty page of notifications.
    assert sorted(count for _, _, count in inbox(engine)) == [0, 50, 100, 100]
    assert {status for _, status, _ in inbox(engine)} == {"ok"}
    assert spool.waiting() == []


def test_body_left_in_the_spool_by_a_crash_is_stored_at_next_start(engine, spool):
    spool.keep(BODY, RECEIVED)  # a pull loop killed right after committing the answer here
    assert pull.replay_spool(engine) == 1
    assert deliveries(engine) == {"abc": 1}
    assert inbox(engine) == [(RECEIVED, "ok", 1)]
    assert spool.waiting() == []


def test_pull_loop_stores_what_the_spool_holds_before_it_pulls(simulator, engine, spool):
    spool.keep(BODY, RECEIVED)
    with VoiceClient(simulator.url, simulator.apikey) as client:
        pull.run(client, engine, once=True)
    assert deliveries(engine) == {"abc": 1}
    assert spool.waiting() == []


def test_body_stored_just_before_a_crash_is_not_stored_twice(engine, spool):
    spooled = spool.keep(BODY, RECEIVED)
    # The writer committed it to the main database; the process died before `forget`.
    store_pages(engine, [(spooled, interpret_pull_answer(200, BODY))], "pull")
    assert pull.replay_spool(engine) == 0
    assert deliveries(engine) == {"abc": 1}
    assert inbox(engine) == [(RECEIVED, "ok", 1)]
    assert spool.waiting() == []


def test_malformed_body_in_the_spool_is_kept_as_malformed(engine, spool):
    spool.keep(b"<html>502 Bad Gateway</html>", RECEIVED)
    assert pull.replay_spool(engine) == 0
    with engine.connect() as connection:
        status, error, body = connection.execute(
            select(RawBody.parse_status, RawBody.parse_error, RawBody.body)
        ).one()
    assert (status, body) == ("malformed", b"<html>502 Bad Gateway</html>")
    assert "not JSON" in error
    assert spool.waiting() == []


def test_second_process_on_the_same_database_pulls_without_the_spool(simulator, tmp_path, caplog):
    path = tmp_path / "voicewatch.db"
    other = PullSpool(path.with_name(path.name + SUFFIX))  # held, as by another pull loop
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert spool_for(engine) is None
        assert "event=pull.spool_busy" in caplog.text
        with VoiceClient(simulator.url, simulator.apikey) as client:
            sid = client.send("13900001234", "8642").sid
            simulator.clock.advance(120)
            pull.drain(client, engine)
        assert deliveries(engine) == {sid: 1}
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(RawBody)).scalar() == 2
        assert other.waiting() == []
    finally:
        other.close()
        engine.dispose()
