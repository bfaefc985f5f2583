"""Alert rules: what is measured, against what, and how loudly. Loaded from alerts.toml (the
package's defaults, or the file VOICEWATCH_ALERTS names)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RULES = Path(__file__).with_name("alerts.toml")

KINDS = (
    "answer_rate",
    "reports_missing",
    "pull_stale",
    "push_stale",
    "upstream_errors",
    "refusals",
    "balance_low",
    "balance_runway",
    "fee_spike",
    "hot_numbers",
)
SCOPES = ("overall", "carrier", "province")
SEVERITIES = ("info", "warning", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class RulesError(ValueError):
    """alerts.toml names an unknown kind, misses a field or holds a value out of range."""


def parse_duration(value: object, where: str) -> float:
    """Seconds in `value`: a number of seconds or text like "90s", "15m", "2h", "1d"."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise RulesError(f"{where}: {value!r} is not a duration (e.g. 90s, 15m, 2h)")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


@dataclass(frozen=True)
class Rule:
    """One alert rule. `threshold` is in the kind's unit (README "Alerts"); `params` holds
    the kind's extra settings (codes, baseline days, fallback baseline, ...)."""

    name: str
    kind: str
    threshold: float
    window: float  # seconds of data measured
    min_sample: int
    severity: str
    repeat: float  # seconds between reminders while firing; 0: never
    pending_for: float = 0.0  # seconds the condition must hold before it fires
    scope: str = "overall"
    title_zh: str = ""
    title_en: str = ""
    params: dict[str, object] = field(default_factory=dict)

    def param(self, name: str, default: object) -> object:
        return self.params.get(name, default)


_KNOWN = {
    "kind",
    "threshold",
    "window",
    "min_sample",
    "severity",
    "repeat",
    "pending_for",
    "scope",
    "title_zh",
    "title_en",
}


def _rule(name: str, table: dict[str, object]) -> Rule:
    where = f"rule {name!r}"
    if table.get("kind") not in KINDS:
        raise RulesError(
            f"{where}: kind must be one of {', '.join(KINDS)}, got {table.get('kind')!r}"
        )
    if table.get("scope", "overall") not in SCOPES:
        raise RulesError(f"{where}: scope must be one of {', '.join(SCOPES)}")
    if table.get("severity", "warning") not in SEVERITIES:
        raise RulesError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    threshold = table.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise RulesError(f"{where}: threshold must be a number, got {threshold!r}")
    min_sample = table.get("min_sample", 0)
    if isinstance(min_sample, bool) or not isinstance(min_sample, int) or min_sample < 0:
        raise RulesError(f"{where}: min_sample must be a whole number >= 0, got {min_sample!r}")
    return Rule(
        name=name,
        kind=str(table["kind"]),
        threshold=float(threshold),
        window=parse_duration(table.get("window", "15m"), f"{where} window"),
        min_sample=min_sample,
        severity=str(table.get("severity", "warning")),
        repeat=parse_duration(table.get("repeat", "1h"), f"{where} repeat"),
        pending_for=parse_duration(table.get("pending_for", 0), f"{where} pending_for"),
        scope=str(table.get("scope", "overall")),
        title_zh=str(table.get("title_zh", name)),
        title_en=str(table.get("title_en", name)),
        params={key: value for key, value in table.items() if key not in _KNOWN},
    )


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rules in `path` (default: the package's alerts.toml), in file order; rules with
    `enabled = false` are left out."""
    source = Path(path) if path else DEFAULT_RULES
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise RulesError(f"cannot read alert rules {source}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise RulesError(f"{source} is not valid TOML: {error}") from None
    tables = document.get("rules")
    if not isinstance(tables, dict) or not tables:
        raise RulesError(f"{source}: no [rules.<name>] tables")
    rules = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise RulesError(f"{source}: rules.{name} must be a table")
        if table.get("enabled", True) is False:
            continue
        rules.append(_rule(name, {k: v for k, v in table.items() if k != "enabled"}))
    return rules
