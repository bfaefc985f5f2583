"""The pull loop against the simulator: drains pages, keeps raw bodies first, backs off."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ingest import pull
from ingest.store.inbox import keep_raw
from ingest.store.models import PullRun, RawBody, Report
from ingest.yunpian.client import MalformedAnswer, VoiceClient


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_drain_stores_every_report_once_with_each_body_kept(simulator, engine):
    with VoiceClient(simulator.url, simulator.apikey) as client:
        sids = {client.send(f"1390000{i:04d}", "8642").sid for i in range(250)}
        simulator.clock.advance(120)
        result = pull.drain(client, engine)
        again = pull.drain(client, engine)
    with engine.connect() as connection:
        stored = set(connection.scalars(select(Report.sid)))
        statuses = list(connection.scalars(select(RawBody.parse_status)))
    assert stored == sids
    assert (result.reports, result.new, again.reports) == (250, 250, 0)
    # pages of 100, 100, 50 for voice codes, then one empty page per type.
    assert result.pages == 4 and statuses.count("ok") == len(statuses) == 6


def test_pull_loop_records_failures_and_keeps_going(make_simulator, engine):
    simulator = make_simulator(fault_5xx=1.0)
    with VoiceClient(simulator.url, simulator.apikey, pull_retries=1, backoff=0.01) as client:
        try:
            pull.run(client, engine, once=True)
        except Exception as error:
            message = str(error)
    with engine.connect() as connection:
        run = connection.execute(select(PullRun)).one()
    assert run.error and run.error == message and "-5" in run.error
    assert simulator.apikey not in run.error


def test_body_kept_before_a_crash_is_processed_at_next_start(engine):
    body = b'[{"sid":"abc","uid":null,"user_receive_time":"2026-11-20 14:29:12","duration":10,"error_msg":null,"mobile":"15205201314","report_status":"SUCCESS"}]'
    keep_raw(engine, "pull", body)  # what a pull loop killed right after the answer leaves
    assert pull.replay_pending(engine) == 1
    with engine.connect() as connection:
        assert list(connection.scalars(select(Report.sid))) == ["abc"]
        assert list(connection.scalars(select(RawBody.parse_status))) == ["ok"]


def test_malformed_pull_answer_is_kept_and_marked(make_simulator, engine):
    simulator = make_simulator(fault_malformed=1.0)
    with VoiceClient(simulator.url, simulator.apikey) as client, pytest.raises(MalformedAnswer):
        pull.drain(client, engine)
    with engine.connect() as connection:
        [(status, error, body)] = connection.execute(
            select(RawBody.parse_status, RawBody.parse_error, RawBody.body)
        )
    assert status == "malformed" and "not JSON" in error and body
