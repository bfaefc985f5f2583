"""The guard's rule set: read from the shipped defaults, overridden by a TOML file.

VOICEWATCH_GUARD names that file; VOICEWATCH_LIMIT_PER_HOUR / VOICEWATCH_LIMIT_PER_DAY (the
per-number limits the throttle shares) set the number rule's limits when given.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

OFF, RECORD_ONLY, ENFORCE = "off", "record-only", "enforce"
MODES = (OFF, RECORD_ONLY, ENFORCE)
DEFAULTS = Path(__file__).with_name("defaults.toml")


class GuardConfigError(ValueError):
    """The guard's configuration file is unreadable or holds a wrong value."""


@dataclass(frozen=True, slots=True)
class ListsRule:
    mode: str = ENFORCE


@dataclass(frozen=True, slots=True)
class DestinationRule:
    mode: str = RECORD_ONLY
    countries: tuple[str, ...] = ("CN",)
    cn_fixed_lines: bool = True


@dataclass(frozen=True, slots=True)
class NumberRule:
    mode: str = ENFORCE
    per_hour: int = 5
    per_day: int = 10


@dataclass(frozen=True, slots=True)
class RangeRule:
    mode: str = ENFORCE
    digits: int = 8
    minutes: float = 10
    max_numbers: int = 5


@dataclass(frozen=True, slots=True)
class CountryRule:
    mode: str = RECORD_ONLY
    days: int = 7
    factor: float = 3.0
    min_per_hour: int = 300


@dataclass(frozen=True, slots=True)
class AppRule:
    mode: str = RECORD_ONLY
    per_minute: int = 120


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Every rule with its mode and limits."""

    lists: ListsRule = field(default_factory=ListsRule)
    destination: DestinationRule = field(default_factory=DestinationRule)
    number: NumberRule = field(default_factory=NumberRule)
    range: RangeRule = field(default_factory=RangeRule)
    country: CountryRule = field(default_factory=CountryRule)
    app: AppRule = field(default_factory=AppRule)

    def with_modes(self, mode: str) -> GuardConfig:
        """The same limits with every rule in `mode` (the lists keep theirs unless off)."""
        _check_mode(mode, "mode")
        return GuardConfig(
            **{f.name: replace(getattr(self, f.name), mode=mode) for f in fields(self)}
        )


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> GuardConfig:
    """The shipped defaults, overridden by the file at `path` and the shared number limits."""
    table = _read(DEFAULTS)
    if path:
        for section, values in _read(Path(path)).items():
            if not isinstance(values, dict):
                raise GuardConfigError(f"{path}: [{section}] must be a table")
            table.setdefault(section, {}).update(values)
    env = env or {}
    for name, key in (
        ("VOICEWATCH_LIMIT_PER_HOUR", "per_hour"),
        ("VOICEWATCH_LIMIT_PER_DAY", "per_day"),
    ):
        if env.get(name):
            table.setdefault("number", {})[key] = _int(env[name], name)
    return config_from_table(table)


def config_from_table(table: Mapping[str, Any]) -> GuardConfig:
    """A GuardConfig from parsed TOML: unknown sections or keys and wrong modes are errors."""
    built: dict[str, Any] = {}
    kinds = {f.name: f.default_factory for f in fields(GuardConfig)}  # type: ignore[misc]
    for section, values in table.items():
        if section not in kinds:
            raise GuardConfigError(f"unknown guard section [{section}]: expected {sorted(kinds)}")
        rule_type = kinds[section]
        known = {f.name for f in fields(rule_type)}
        unknown = set(values) - known
        if unknown:
            raise GuardConfigError(
                f"[{section}] has unknown keys {sorted(unknown)}: expected {sorted(known)}"
            )
        values = dict(values)
        if "countries" in values:
            values["countries"] = tuple(str(c).upper() for c in values["countries"])
        _check_mode(values.get("mode", OFF), f"[{section}] mode")
        built[section] = rule_type(**values)
    return GuardConfig(**built)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise GuardConfigError(f"guard configuration {path}: {error}") from None


def _check_mode(mode: object, where: str) -> None:
    if mode not in MODES:
        raise GuardConfigError(f"{where} = {mode!r}: expected one of {', '.join(MODES)}")


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise GuardConfigError(f"{name}={raw!r} is not a whole number") from None
