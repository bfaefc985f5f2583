"""`voicewatch simulate --attack`: the pumping scenario starts with the simulator, off unless
asked, and can be switched at runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from itertools import islice

import httpx

from ingest.simulator.attack import BOMBED, PUMPED_RANGE, VICTIM, attack_numbers
from tests.servers import free_port, wait_until


def attack_state(port: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/_sim/attack", timeout=1).json()
    except httpx.HTTPError:
        return None


def test_simulate_attack_flag_starts_pumping_and_runtime_switch_stops_it():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "simulate", "--port", str(port), "--attack", "pumping"],
        env=os.environ | {"PYTHONPATH": os.getcwd()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        state = wait_until(lambda: (s := attack_state(port)) and s["sent"] >= 3 and s, 30)
        assert state["scenario"] == "pumping"
        stopped = httpx.post(f"http://127.0.0.1:{port}/_sim/attack", data={"scenario": "off"})
        assert stopped.json()["scenario"] == "off"
    finally:
        process.kill()
        process.wait(timeout=10)


def test_pumping_numbers_are_sequential_in_one_range_and_the_flood_one_victim():
    pumped = list(islice(attack_numbers("pumping", 41), 3))
    assert pumped == [f"{PUMPED_RANGE}{n:04d}" for n in (41, 42, 43)]
    assert set(islice(attack_numbers("flood"), 5)) == {VICTIM}


def test_bombing_calls_a_handful_of_victims_in_turn():
    bombed = list(islice(attack_numbers("bombing"), 30))
    assert len(set(BOMBED)) == 6 and set(bombed) == set(BOMBED)
    assert all(bombed.count(number) == 5 for number in BOMBED)
