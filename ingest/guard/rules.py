"""The rules as pure functions: one attempt, what recently went out, the lists → a decision.

The live guard (live.py) and replay (replay.py) differ only in where `Recent` comes from (the
database's counters, or the replayed sends held in memory), so replay decides as live did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import phonenumbers

from ingest.guard.config import ENFORCE, OFF, GuardConfig

# The rules' names, as stored, shown and counted (a bounded metric label).
LISTS, DESTINATION, NUMBER, RANGE, COUNTRY, APP = (
    "block list",
    "destination",
    "number velocity",
    "range velocity",
    "country velocity",
    "app velocity",
)
RULES = (LISTS, DESTINATION, NUMBER, RANGE, COUNTRY, APP)
ALLOWED = "allow list"
UNKNOWN_COUNTRY = "??"


@dataclass(frozen=True, slots=True)
class Attempt:
    """A send about to leave, as the rules see it."""

    at: datetime
    mobile: str
    app: str
    country: str
    fixed_line: bool
    prefix: str


@dataclass(frozen=True, slots=True)
class Recent:
    """What went out before `Attempt.at` that the rules count (sends the guard let pass)."""

    number_hour: int
    number_day: int
    range_numbers: int  # other numbers in the prefix within the range rule's window
    country_hour: int
    country_baseline: float  # mean sends to the country in this hour of the past days
    app_minute: int


@dataclass(frozen=True, slots=True)
class Decision:
    """What the guard decided: the rules that fired (with their modes), and whether it blocks."""

    fired: tuple[tuple[str, str], ...] = ()
    allowed: bool = False  # on the allow list: no rule applies

    @property
    def blocked(self) -> bool:
        return any(mode == ENFORCE for _, mode in self.fired)

    @property
    def rule(self) -> str | None:
        """The deciding rule: the first enforced one, else the first recorded."""
        if self.allowed:
            return ALLOWED
        enforced = [rule for rule, mode in self.fired if mode == ENFORCE]
        return (enforced or [rule for rule, _ in self.fired] or [None])[0]

    @property
    def mode(self) -> str | None:
        return dict(self.fired).get(self.rule) if self.rule in dict(self.fired) else None


@dataclass(frozen=True, slots=True)
class Lists:
    """The allow and block lists: exact numbers and prefixes (stored with a trailing *)."""

    allow: frozenset[str] = frozenset()
    block: frozenset[str] = frozenset()

    def allows(self, mobile: str) -> bool:
        return _listed(mobile, self.allow)

    def blocks(self, mobile: str) -> bool:
        return _listed(mobile, self.block)


def _listed(mobile: str, entries: frozenset[str]) -> bool:
    digits = mobile.lstrip("+")
    for entry in entries:
        if entry.endswith("*"):
            if digits.startswith(entry[:-1].lstrip("+")):
                return True
        elif entry.lstrip("+") == digits:
            return True
    return False


def attempt_for(mobile: str, app: str, at: datetime, config: GuardConfig) -> Attempt:
    """The attempt for a send to `mobile`, with its destination and number range."""
    country, fixed_line = destination(mobile)
    digits = mobile.lstrip("+")
    return Attempt(at, mobile, app[:128], country, fixed_line, digits[: config.range.digits])


@lru_cache(maxsize=65536)
def destination(mobile: str) -> tuple[str, bool]:
    """The number's ISO region ("??" when it has none) and whether it is a fixed line."""
    try:
        parsed = phonenumbers.parse(mobile, "CN")
    except phonenumbers.NumberParseException:
        return UNKNOWN_COUNTRY, False
    region = phonenumbers.region_code_for_number(parsed) or UNKNOWN_COUNTRY
    kind = phonenumbers.number_type(parsed)
    return region[:8], kind == phonenumbers.PhoneNumberType.FIXED_LINE


def decide(attempt: Attempt, recent: Recent, config: GuardConfig, lists: Lists) -> Decision:
    """Every rule not off that fires for `attempt`, in the order of RULES."""
    if config.lists.mode != OFF and lists.allows(attempt.mobile):
        return Decision(allowed=True)
    checks = (
        (LISTS, config.lists.mode, lambda: lists.blocks(attempt.mobile)),
        (DESTINATION, config.destination.mode, lambda: _foreign(attempt, config)),
        (NUMBER, config.number.mode, lambda: _number_over(recent, config)),
        (RANGE, config.range.mode, lambda: recent.range_numbers >= config.range.max_numbers),
        (
            COUNTRY,
            config.country.mode,
            lambda: recent.country_hour >= country_limit(recent, config),
        ),
        (APP, config.app.mode, lambda: recent.app_minute >= config.app.per_minute),
    )
    return Decision(tuple((rule, mode) for rule, mode, fires in checks if mode != OFF and fires()))


def _foreign(attempt: Attempt, config: GuardConfig) -> bool:
    if attempt.country not in config.destination.countries:
        return True
    return attempt.country == "CN" and attempt.fixed_line and not config.destination.cn_fixed_lines


def _number_over(recent: Recent, config: GuardConfig) -> bool:
    return (
        recent.number_hour >= config.number.per_hour or recent.number_day >= config.number.per_day
    )


def country_limit(recent: Recent, config: GuardConfig) -> float:
    """Sends to a country allowed this hour: its baseline × factor, at least min_per_hour."""
    return max(config.country.min_per_hour, config.country.factor * recent.country_baseline)


@dataclass(frozen=True, slots=True)
class Windows:
    """Where each counter starts for an attempt at `at` (and the baseline's hour)."""

    hour: datetime
    day: datetime
    range: datetime
    minute: datetime
    hour_start: datetime


def windows(at: datetime, config: GuardConfig) -> Windows:
    return Windows(
        hour=at - timedelta(hours=1),
        day=at - timedelta(days=1),
        range=at - timedelta(minutes=config.range.minutes),
        minute=at - timedelta(minutes=1),
        hour_start=at.replace(minute=0, second=0, microsecond=0),
    )
