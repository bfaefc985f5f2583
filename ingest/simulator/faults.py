"""Incidents switched on and off while the simulator runs: `POST /_sim/faults` and the
`voicewatch simulate` outage flags. They make every alert rule demonstrable.

Unlike the `fault_*` shares in SimulatorConfig (random noise, fixed at start), these are
whole incidents: a carrier or province whose calls all fail, reports held back, pull_status
stalling or failing, the whole API out of reach, and the balance set to a value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

# What a report says when the carrier's network drops the call; "Send Exception" is the
# reference's own example of a failure not caused by the callee.
OUTAGE_ERROR_MSG = "Send Exception"

REPORT_MODES = ("normal", "delayed", "withheld")
PULL_MODES = ("normal", "stall", "5xx")


class FaultSpecError(ValueError):
    """A fault request that names an unknown switch or an impossible value."""


@dataclass(frozen=True)
class Incidents:
    """The incidents in force. `report_delay` (simulated seconds) applies when reports are
    'delayed'; 'withheld' keeps every due report back until the mode changes."""

    outage_carriers: frozenset[str] = field(default_factory=frozenset)
    outage_provinces: frozenset[str] = field(default_factory=frozenset)
    reports: str = "normal"
    report_delay: float = 600.0
    pull: str = "normal"
    unreachable: bool = False

    def in_outage(self, carrier: str, province: str) -> bool:
        return carrier in self.outage_carriers or province in self.outage_provinces

    def to_json(self) -> dict[str, object]:
        return {
            "outage": {
                "carriers": sorted(self.outage_carriers),
                "provinces": sorted(self.outage_provinces),
            },
            "reports": self.reports,
            "report_delay": self.report_delay,
            "pull": self.pull,
            "unreachable": self.unreachable,
        }


def _names(value: object, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FaultSpecError(f"outage.{what} must be a list of names, got {value!r}")
    return frozenset(value)


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise FaultSpecError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def apply_spec(current: Incidents, spec: Mapping[str, object]) -> tuple[Incidents, float | None]:
    """`current` changed by the fields `spec` names (others stay), and the balance to set if
    given. `{"clear": true}` first returns every incident to normal."""
    known = {"clear", "outage", "reports", "report_delay", "pull", "unreachable", "balance"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise FaultSpecError(f"unknown fault switch(es) {unknown}; known: {sorted(known)}")
    incidents = Incidents() if spec.get("clear") is True else current
    changes: dict[str, object] = {}
    if "outage" in spec:
        outage = spec["outage"]
        if not isinstance(outage, dict) or set(outage) - {"carriers", "provinces"}:
            raise FaultSpecError('outage must be {"carriers": [...], "provinces": [...]}')
        changes["outage_carriers"] = _names(outage.get("carriers", []), "carriers")
        changes["outage_provinces"] = _names(outage.get("provinces", []), "provinces")
    if "reports" in spec:
        changes["reports"] = _choice(spec["reports"], "reports", REPORT_MODES)
    if "pull" in spec:
        changes["pull"] = _choice(spec["pull"], "pull", PULL_MODES)
    if "unreachable" in spec:
        if not isinstance(spec["unreachable"], bool):
            raise FaultSpecError(f"unreachable must be true or false, got {spec['unreachable']!r}")
        changes["unreachable"] = spec["unreachable"]
    changes.update(_numbers(spec))
    balance = changes.pop("balance", None)
    return replace(incidents, **changes), balance  # type: ignore[arg-type]


def _numbers(spec: Mapping[str, object]) -> dict[str, float]:
    numbers = {}
    for name in ("report_delay", "balance"):
        if name in spec:
            value = spec[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise FaultSpecError(f"{name} must be a number >= 0, got {value!r}")
            numbers[name] = float(value)
    return numbers


class IncidentBoard:
    """The incidents in force, shared by the HTTP handlers and the world (thread-safe)."""

    def __init__(self, incidents: Incidents | None = None) -> None:
        self._lock = threading.Lock()
        self._incidents = incidents or Incidents()
        self.changed = threading.Event()  # set on each change, for waits that should end early

    @property
    def now(self) -> Incidents:
        with self._lock:
            return self._incidents

    def set(self, incidents: Incidents) -> None:
        with self._lock:
            self._incidents = incidents
        self.changed.set()
        self.changed.clear()
