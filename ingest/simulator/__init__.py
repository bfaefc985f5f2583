"""A faithful simulator of Yunpian's voice verification-code API, for tests and demos.

`create_app(config)` is the Starlette app; `World` is the account behind it; `run_simulator`
serves it with uvicorn (optionally with synthetic traffic).
"""

from __future__ import annotations

from ingest.simulator.app import create_app
from ingest.simulator.cli import TrafficPlan, run_simulator
from ingest.simulator.clock import Clock, ManualClock, SystemClock
from ingest.simulator.config import DEMO_APIKEY, SimulatorConfig
from ingest.simulator.world import QUIET_HOURS_REJECTION, World

__all__ = [
    "DEMO_APIKEY",
    "QUIET_HOURS_REJECTION",
    "Clock",
    "ManualClock",
    "SimulatorConfig",
    "SystemClock",
    "TrafficPlan",
    "World",
    "create_app",
    "run_simulator",
]
