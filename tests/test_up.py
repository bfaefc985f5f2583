"""`voicewatch up` (what `make run` runs): every part starts, data flows, Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import socket
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
        "--seed-live-hours",  # at 5/s, a week of it would take minutes
        "1",
    ]
    command += [f"--{name}-port={port}" for name, port in ports.items()]
    # Started with SIGINT ignored, as a script's background job is: Ctrl-C must still stop it.
    up = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
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


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of `pid`: {pid: command line}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and command:
            found[int(entry)] = command
    return found


def part(pid: int, name: str) -> int | None:
    return next((p for p, c in children_of(pid).items() if f"-m ingest {name} " in c), None)


def start_up(tmp_path, ports: dict[str, int], *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUNPIAN_", "VOICEWATCH_"))}
    env |= {"VOICEWATCH_DB": f"sqlite:///{tmp_path / 'voicewatch.db'}"}
    command = [sys.executable, "-m", "ingest", "up", "--seed-days", "0", "--traffic", "1/s"]
    command += [f"--{name}-port={port}" for name, port in ports.items()]
    log = open(tmp_path / "up.log", "a")  # noqa: SIM115 - the children write it, appending
    return subprocess.Popen(
        [*command, *extra], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )


def test_up_starts_a_part_that_dies_again_and_keeps_the_rest_running(tmp_path):
    ports = {name: free_port() for name in ("ingest", "dashboard", "simulator")}
    up = start_up(tmp_path, ports)
    healthz = f"http://127.0.0.1:{ports['ingest']}/healthz"
    try:
        wait_until(lambda: answers(healthz) and part(up.pid, "pull"), timeout=120, interval=0.5)
        pull_before, ingest_before = part(up.pid, "pull"), part(up.pid, "serve")
        os.kill(pull_before, signal.SIGKILL)
        os.kill(ingest_before, signal.SIGKILL)
        wait_until(
            lambda: (
                part(up.pid, "pull") not in (None, pull_before)
                and part(up.pid, "serve") not in (None, ingest_before)
                and answers(healthz)
            ),
            timeout=60,
            interval=0.5,
        )
        assert up.poll() is None  # the stack is still up
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    output = (tmp_path / "up.log").read_text()
    # 1 s after a first exit; more when an earlier exit at start already counts (a loaded CI).
    assert re.search(r"pull loop exited with status -9; starting it again in \d+ s", output)
    assert "ingest exited with status -9; starting it again" in output
    assert up.returncode == 0


def test_up_stops_when_a_part_fails_at_start_again_and_again(tmp_path):
    ports = {name: free_port() for name in ("ingest", "dashboard", "simulator")}
    with socket.socket() as taken:  # the ingest port is someone else's: `serve` cannot start
        taken.bind(("127.0.0.1", ports["ingest"]))
        taken.listen()
        up = start_up(tmp_path, ports, "--max-start-failures", "2")
        try:
            up.wait(timeout=120)
        finally:
            if up.poll() is None:
                up.kill()
    output = (tmp_path / "up.log").read_text()
    assert up.returncode == 1
    assert re.search(r"ingest exited with status \d+; starting it again in 1 s", output)
    assert re.search(r"ingest exited with status \d+ at start 2 times in a row: stopping", output)
    assert not children_of(up.pid)
