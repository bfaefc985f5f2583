"""What voicewatch stores equals what really happened, with the simulator's faults switched on."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import func, select

from ingest import pull
from ingest.store.models import Report
from ingest.yunpian.client import VoiceClient, YunpianError
from ingest.yunpian.reports import CHINA
from tests.servers import wait_until

CALLS = 2000
FAULTS = {
    "fault_5xx": 0.05,
    "fault_malformed": 0.02,
    "fault_drop_push": 0.3,
    "fault_duplicate_push": 0.2,
    "fault_reorder": 0.3,
}


def stored_reports(engine) -> dict[str, Report]:
    with engine.connect() as connection:
        return {row.sid: row for row in connection.execute(select(Report))}


@pytest.mark.slow
def test_push_and_pull_together_store_every_report_exactly_once(
    make_simulator, make_ingest, engine
):
    service = make_ingest()
    simulator = make_simulator(push_url=f"{service.url}/push/voice", push_max_attempts=30, **FAULTS)
    stop = threading.Event()
    puller_client = VoiceClient(simulator.url, simulator.apikey, backoff=0.01)
    puller = threading.Thread(
        target=pull.run, args=(puller_client, engine), kwargs={"interval": 0.1, "stop": stop}
    )
    puller.start()
    try:
        with VoiceClient(simulator.url, simulator.apikey, backoff=0.01) as client:
            for i in range(CALLS):
                # A 5xx or a malformed answer: the ground truth says whether the call went out.
                with contextlib.suppress(YunpianError):
                    client.send(f"13{i:09d}", f"{i % 9000 + 1000}")
        truth = {call["sid"]: call for call in simulator.ground_truth()["calls"]}
        wait_until(lambda: len(stored_reports(engine)) >= len(truth), timeout=180, interval=0.5)
    finally:
        stop.set()
        puller.join(timeout=30)
        puller_client.close()

    stored = stored_reports(engine)
    assert len(truth) > CALLS * 0.8
    assert stored.keys() == truth.keys()
    for sid, call in truth.items():
        row, report = stored[sid], call["report"]
        assert (row.status, row.error_msg, row.duration, row.mobile) == (
            report["report_status"],
            report["error_msg"],
            report["duration"],
            report["mobile"],
        )
        assert (
            row.user_receive_time.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
            == report["user_receive_time"]
        )
    # The faults really happened: some reports came twice, some only by pull.
    with engine.connect() as connection:
        deliveries = connection.execute(select(func.sum(Report.deliveries))).scalar_one()
    assert deliveries > len(truth)
    assert any(row.via_pull and not row.via_push for row in stored.values())
