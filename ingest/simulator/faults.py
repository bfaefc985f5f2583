"""Incidents switched on and off while the simulator runs: `POST /_sim/faults` and the
`voicewatch simulate` outage flags. They make every alert rule demonstrable.

Unlike the `fault_*` shares in SimulatorConfig (random noise, fixed at start), these are
whole incidents: a carrier or province whose calls all fail, reports held back, pull_status
stalling or failing, the whole API out of reach, the apikey revoked or the caller's IP off the
whitelist, quiet hours in force whatever the clock says, the account's call rate exceeded, a
higher price per call, and the balance set to a value. (Numbers called suspiciously often are
the caller's doing, not Yunpian's: the simulator's attacker does that, ingest/simulator/attack.py.)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ingest.simulator.records import Rejection

# What a report says when the carrier's network drops the call; "Send Exception" is the
# reference's own example of a failure not caused by the callee.
OUTAGE_ERROR_MSG = "Send Exception"

# Who may switch incidents and attacks: this host only.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
REPORT_MODES = ("normal", "delayed", "withheld")
PULL_MODES = ("normal", "stall", "5xx")
# "apikey": the key was revoked or changed in the console (-1 on every request); "ip": the
# caller's address is no longer on the account's IP whitelist (-3 on every request).
AUTH_MODES = ("normal", "apikey", "ip")
# Codes and texts per ../shared/yunpian-voice-api.md; the details are our wording (believed).
AUTH_REFUSALS = {
    "apikey": Rejection(-1, "apikey已失效，请在云片控制台查看当前的apikey"),
    "ip": Rejection(-3, "IP没有权限，请在云片控制台将调用方IP加入白名单"),
}
RATE_LIMITED = Rejection(-5, "访问频率超限，请降低调用频率后重试")


class FaultSpecError(ValueError):
    """A fault request that names an unknown switch or an impossible value."""


@dataclass(frozen=True)
class Incidents:
    """The incidents in force. `report_delay` (simulated seconds) applies when reports are
    'delayed'; 'withheld' keeps every due report back until the mode changes. `quiet_hours`
    refuses domestic voice codes as 22:00-07:30 China time does; `rate_limited` is the share
    of sends refused with -5 (account call rate exceeded); `fee`, when set, is charged per
    call instead of the account's configured fee."""

    outage_carriers: frozenset[str] = field(default_factory=frozenset)
    outage_provinces: frozenset[str] = field(default_factory=frozenset)
    reports: str = "normal"
    report_delay: float = 600.0
    pull: str = "normal"
    unreachable: bool = False
    auth: str = "normal"
    quiet_hours: bool = False
    rate_limited: float = 0.0
    fee: float | None = None

    def in_outage(self, carrier: str, province: str) -> bool:
        return carrier in self.outage_carriers or province in self.outage_provinces

    def auth_refusal(self) -> Rejection | None:
        """The refusal every request with the right apikey gets while `auth` is not normal."""
        return AUTH_REFUSALS.get(self.auth)

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
            "auth": self.auth,
            "quiet_hours": self.quiet_hours,
            "rate_limited": self.rate_limited,
            "fee": self.fee,
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
    known = {"clear", "outage", "reports", "report_delay", "pull", "auth", "balance", "fee"}
    known |= {"unreachable", "quiet_hours", "rate_limited"}
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
    if "auth" in spec:
        changes["auth"] = _choice(spec["auth"], "auth", AUTH_MODES)
    for name in ("unreachable", "quiet_hours"):
        if name in spec:
            if not isinstance(spec[name], bool):
                raise FaultSpecError(f"{name} must be true or false, got {spec[name]!r}")
            changes[name] = spec[name]
    changes.update(_numbers(spec))
    if "rate_limited" in changes and changes["rate_limited"] > 1:
        raise FaultSpecError(f"rate_limited is a share from 0 to 1, got {spec['rate_limited']!r}")
    balance = changes.pop("balance", None)
    return replace(incidents, **changes), balance  # type: ignore[arg-type]


def _numbers(spec: Mapping[str, object]) -> dict[str, float | None]:
    numbers: dict[str, float | None] = {}
    if spec.get("fee", 0) is None:  # null: back to the account's configured fee
        numbers["fee"] = None
    for name in ("report_delay", "balance", "rate_limited", "fee"):
        if name in spec and name not in numbers:
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
