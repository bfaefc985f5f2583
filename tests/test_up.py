"""`voicewatch up` (what `make run` runs): every part starts, data flows, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from ingest.store.models import Report, Send
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.slow


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_up_serves_every_part_and_data_flows_from_simulator_to_database(tmp_path, stop_signal):
    db_url = f"sqlite:///{tmp_path / 'voicewatch.db'}"
    ports = {name: free_port() for name in ("ingest", "dashboard", "simulator")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUNPIAN_", "VOICEWATCH_"))}
    env |= {"VOICEWATCH_DB": db_url, "VOICEWATCH_PULL_INTERVAL": "1"}
    command = [
        sys.executable,
        "-m",
        "ingest",
        "up",
        "--traffic",
        "5/s",
        "--seed-days",
        "2",
        "--seed-per-day",
        "300",
    ]
    command += [f"--{name}-port={port}" for name, port in ports.items()]
    up = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    urls = {
        "ingest": f"http://127.0.0.1:{ports['ingest']}/healthz",
        "simulator": f"http://127.0.0.1:{ports['simulator']}/_sim/state",
        "dashboard": f"http://127.0.0.1:{ports['dashboard']}/_stcore/health",
    }
    engine = create_engine(db_url)
    try:
        for url in urls.values():
            wait_until(lambda url=url: answers(url), timeout=120, interval=0.5)

        def live_counts() -> tuple[int, int]:
            with engine.connect() as connection:
                relayed = connection.execute(
                    select(func.count()).where(Send.source == "relay", Send.sid.is_not(None))
                )
                live_sids = select(Send.sid).where(Send.source == "relay")
                reported = connection.execute(select(func.count()).where(Report.sid.in_(live_sids)))
                return relayed.scalar_one(), reported.scalar_one()

        seeded = live_counts()
        # Synthetic users send through the relay; their reports come back by push and pull.
        wait_until(lambda: live_counts()[1] >= seeded[1] + 5, timeout=120, interval=0.5)
        truth = httpx.get(f"http://127.0.0.1:{ports['simulator']}/_sim/calls").json()["calls"]
        with engine.connect() as connection:
            stored = set(connection.scalars(select(Report.sid)))
        assert any(call["sid"] in stored for call in truth)
        with engine.connect() as connection:
            assert (
                connection.execute(select(func.count()).select_from(Send)).scalar_one() > 300
            )  # the seeded history
    finally:
        up.send_signal(stop_signal)
        output, _ = up.communicate(timeout=60)
        engine.dispose()
    assert f"http://127.0.0.1:{ports['dashboard']}" in output
    if stop_signal == signal.SIGINT:
        assert up.returncode == 0
        assert not any(answers(url) for url in urls.values()), "a part still answers after Ctrl-C"
    else:  # no chance to clean up: the children must still go (the kernel tells them)
        wait_until(lambda: not any(answers(url) for url in urls.values()), timeout=30)
