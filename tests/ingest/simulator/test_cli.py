"""`python -m ingest.simulator` as a user runs it: a real process serving on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ingest.simulator.cli import simulate
from tests.fixtures.simulator import TEST_APIKEY
from tests.servers import free_port, wait_until

PROJECT = Path(__file__).resolve().parents[3]


@contextmanager
def simulator_process(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Run the simulator command; yields its URL and, once stopped, its output lines."""
    port = free_port()
    command = [sys.executable, "-m", "ingest.simulator", "--port", str(port), *args]
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, timeout=20)
        assert process.poll() is None, process.stdout.read()
        yield url, output
    finally:
        process.terminate()
        output += process.communicate(timeout=10)[0].splitlines()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sim/state", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_command_serves_with_the_apikey_from_the_environment_and_never_prints_it():
    env = {"YUNPIAN_APIKEY": TEST_APIKEY}
    with simulator_process("--seed", "1", "--no-quiet-hours", env=env) as (url, output):
        form = {"apikey": TEST_APIKEY, "mobile": "15205201314", "code": "1234"}
        assert httpx.post(f"{url}/v2/voice/send.json", data=form).json()["count"] == 1
    assert f"Yunpian voice simulator on {url}" in output[0]
    assert f"{TEST_APIKEY[:4]}…(32 chars)" in output[0]
    assert not any(TEST_APIKEY in line for line in output)


def test_command_with_traffic_fills_itself_with_sends():
    with simulator_process("--traffic", "50/s", "--no-quiet-hours", "--seed", "2") as (url, _):
        wait_until(lambda: httpx.get(f"{url}/_sim/state").json()["calls"] >= 5)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--traffic", "lots"], "rate"),
        (["--fault-5xx", "2"], "fault-5xx"),
        (["--apikey", "short"], "32 characters"),
    ],
)
def test_command_refuses_bad_options_before_serving(args, complaint):
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 2
    assert complaint in result.output
