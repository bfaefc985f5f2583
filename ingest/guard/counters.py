"""The guard's counters, kept as rows in the database (guard_attempts): every relay on the
same database counts the same sends, so a burst split across relays is seen whole.

One SELECT of indexed counts per send (bench/guard.py measures it); the country baseline,
fixed for an hour, is cached per country and hour.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Connection, and_, bindparam, func, insert, or_, select, text

from ingest.guard.config import GuardConfig
from ingest.guard.rules import Attempt, Decision, Recent, windows
from ingest.store.models import GuardAttempt, UTCDateTime

ATTEMPTS = GuardAttempt.__table__
BASELINE_CACHE = 4096  # (country, hour) baselines kept
HOUR = timedelta(hours=1)


# Written once as SQL: building it with the expression language each time cost ~1 ms a send
# (bench/guard.py). Each count reads one index: (mobile|prefix|country|app, at).
_WHERE = "FROM guard_attempts WHERE passed = :yes AND at < :at AND"
RECENT = text(
    f"""SELECT n.in_hour, n.in_day,
    (SELECT count(DISTINCT mobile) {_WHERE} prefix = :prefix AND at >= :range
        AND mobile != :mobile),
    (SELECT count(*) {_WHERE} country = :country AND at >= :hour),
    (SELECT count(*) {_WHERE} app = :app AND at >= :minute)
FROM (SELECT count(*) FILTER (WHERE at >= :hour) AS in_hour, count(*) AS in_day
      {_WHERE} mobile = :mobile AND at >= :day) AS n"""
).bindparams(
    *(bindparam(name, type_=UTCDateTime()) for name in ("at", "hour", "day", "range", "minute")),
    bindparam("yes", type_=Boolean()),
)
INSERT = insert(ATTEMPTS)


class Counters:
    """Reads the recent counts for an attempt and records its decision, in one connection."""

    def __init__(self) -> None:
        self._baselines: dict[tuple[str, object, int], float] = {}
        self._lock = threading.Lock()

    def recent(self, connection: Connection, attempt: Attempt, config: GuardConfig) -> Recent:
        """What passed before `attempt.at` that the rules count."""
        w = windows(attempt.at, config)
        row = connection.execute(
            RECENT,
            {
                "at": attempt.at,
                "mobile": attempt.mobile,
                "prefix": attempt.prefix,
                "country": attempt.country,
                "app": attempt.app,
                "hour": w.hour,
                "day": w.day,
                "range": w.range,
                "minute": w.minute,
                "yes": True,
            },
        ).one()
        baseline = self._baseline(connection, attempt, config)
        return Recent(row[0], row[1], row[2], row[3], baseline, row[4])

    def _baseline(self, connection: Connection, attempt: Attempt, config: GuardConfig) -> float:
        hour_start = windows(attempt.at, config).hour_start
        key = (attempt.country, hour_start, config.country.days)
        with self._lock:
            if key in self._baselines:
                return self._baselines[key]
        c = ATTEMPTS.c
        days = range(1, config.country.days + 1)
        same_hour = [
            and_(
                c.at >= hour_start - timedelta(days=d), c.at < hour_start - timedelta(days=d) + HOUR
            )
            for d in days
        ]
        total = (
            connection.execute(
                select(func.count()).where(c.passed, c.country == attempt.country, or_(*same_hour))
            ).scalar_one()
            if same_hour
            else 0
        )
        baseline = total / max(config.country.days, 1)
        with self._lock:
            if len(self._baselines) >= BASELINE_CACHE:
                self._baselines.clear()
            self._baselines[key] = baseline
        return baseline


def combined(stored: Recent, pending: Recent) -> Recent:
    """Committed counts plus those of attempts not yet committed (read consistently by
    Guard._counts, so a record is not counted in both)."""
    return Recent(
        stored.number_hour + pending.number_hour,
        stored.number_day + pending.number_day,
        stored.range_numbers + pending.range_numbers,
        stored.country_hour + pending.country_hour,
        stored.country_baseline,
        stored.app_minute + pending.app_minute,
    )


def attempt_row(attempt: Attempt, decision: Decision, passed: bool) -> dict[str, object]:
    return {
        "at": attempt.at,
        "mobile": attempt.mobile[:32],
        "prefix": attempt.prefix[:16],
        "country": attempt.country[:8],
        "app": attempt.app[:128],
        "passed": passed,
        "rule": decision.rule,
        "mode": decision.mode,
        "fired": ",".join(rule for rule, _ in decision.fired)[:256] or None,
    }


class MemoryCounters:
    """The live counters' counts over attempts replayed in time order."""

    def __init__(self) -> None:
        self._by: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
        self._ranges: dict[str, list[tuple[datetime, str]]] = defaultdict(list)

    def add(self, attempt: Attempt) -> None:
        """One attempt that went out (the guard let it pass)."""
        for key, value in (
            ("mobile", attempt.mobile),
            ("country", attempt.country),
            ("app", attempt.app),
        ):
            self._by[key][value].append(attempt.at)
        self._ranges[attempt.prefix].append((attempt.at, attempt.mobile))

    def recent(self, attempt: Attempt, config: GuardConfig) -> Recent:
        w = windows(attempt.at, config)
        mobile = self._by["mobile"][attempt.mobile]
        country = self._by["country"][attempt.country]
        others = {
            m
            for at, m in reversed(self._ranges[attempt.prefix])
            if at >= w.range and at < attempt.at and m != attempt.mobile
        }
        spans = [w.hour_start - timedelta(days=d) for d in range(1, config.country.days + 1)]
        baseline = sum(_between(country, s, s + timedelta(hours=1)) for s in spans)
        return Recent(
            number_hour=_between(mobile, w.hour, attempt.at),
            number_day=_between(mobile, w.day, attempt.at),
            range_numbers=len(others),
            country_hour=_between(country, w.hour, attempt.at),
            country_baseline=baseline / max(config.country.days, 1),
            app_minute=_between(self._by["app"][attempt.app], w.minute, attempt.at),
        )


def _between(times: list[datetime], start: datetime, end: datetime) -> int:
    return bisect_left(times, end) - bisect_left(times, start)
