"""Yunpian's per-number throttle rules as pure functions: would a send be rejected, and when
would it next be accepted. Shared by the seeder (to produce honest 8/9/17/22 rejections) and
the dashboard (to warn before a send the throttle would refuse)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ingest.settings import Settings

CHINA = ZoneInfo("Asia/Shanghai")
# Domestic voice codes are not placed in these China-time hours (see the API notes).
QUIET_START = time(22, 0)
QUIET_END = time(7, 30)


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """Per-number limits. The 30 s / 3-in-5-min same-content rules are Yunpian's documented
    ones; the 1 h and 24 h counts are set per account in Yunpian's console: configuration
    (VOICEWATCH_LIMIT_PER_HOUR / _PER_DAY, `of(settings)`), None when the account has none."""

    same_code_gap: timedelta = timedelta(seconds=30)  # code 8
    same_code_window: timedelta = timedelta(minutes=5)  # code 9
    same_code_per_window: int = 3
    per_hour: int | None = None  # code 22
    per_day: int | None = None  # code 17

    @classmethod
    def of(cls, settings: Settings) -> ThrottleLimits:
        """The limits in force for the configured account."""
        return cls(per_hour=settings.limit_per_hour, per_day=settings.limit_per_day)


NO_ACCOUNT_LIMITS = ThrottleLimits()  # what the simulator does unless told: no 1 h / 24 h limit
# A plausible account's console settings, for the seeded demo history's 22 and 17 refusals.
EXAMPLE_LIMITS = ThrottleLimits(per_hour=5, per_day=10)


@dataclass(frozen=True, slots=True)
class AcceptedSend:
    """One earlier accepted send to the number: when, and which code (as its digest)."""

    sent_at: datetime
    code_digest: str


@dataclass(frozen=True, slots=True)
class NextSend:
    """When Yunpian would next accept a send to a number, and why not sooner."""

    now: datetime
    same_code_at: datetime  # repeating the code given (or the latest one sent)
    new_code_at: datetime  # sending a fresh code
    codes: tuple[int, ...]  # the refusal code of every rule that delays a send (8, 9, 22, 17)
    quiet_hours: bool  # `new_code_at` falls in 22:00–07:30 China time

    @property
    def same_code_wait(self) -> timedelta:
        return max(self.same_code_at - self.now, timedelta(0))

    @property
    def new_code_wait(self) -> timedelta:
        return max(self.new_code_at - self.now, timedelta(0))


def in_quiet_hours(at: datetime) -> bool:
    """Whether `at` falls in the China-time night when domestic voice codes are not sent."""
    local = at.astimezone(CHINA).time()
    return local >= QUIET_START or local < QUIET_END


def _earliest(times_desc: list[datetime], now: datetime, window: timedelta, limit: int | None):
    """Earliest moment ≥ now at which fewer than `limit` of `times_desc` lie in `window`."""
    if limit is None:
        return now
    recent = [t for t in times_desc if t > now - window]
    if len(recent) < limit:
        return now
    return recent[limit - 1] + window


def rejection_code(
    history: Iterable[AcceptedSend],
    at: datetime,
    code_digest: str,
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
) -> int | None:
    """The throttle code (8, 9, 22, 17) a send at `at` would get, or None if accepted."""
    history = list(history)
    if not history:  # the common case: nothing sent to the number in the last day
        return None
    times = sorted((s.sent_at for s in history if s.sent_at <= at), reverse=True)
    same = sorted(
        (s.sent_at for s in history if s.sent_at <= at and s.code_digest == code_digest),
        reverse=True,
    )
    if same and at - same[0] < limits.same_code_gap:
        return 8
    if _earliest(same, at, limits.same_code_window, limits.same_code_per_window) > at:
        return 9
    if _earliest(times, at, timedelta(hours=1), limits.per_hour) > at:
        return 22
    if _earliest(times, at, timedelta(days=1), limits.per_day) > at:
        return 17
    return None


def next_send(
    history: Iterable[AcceptedSend],
    now: datetime,
    code_digest: str | None = None,
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
) -> NextSend:
    """When a send to the number is next accepted, for the same code and for a new one.

    `code_digest` None means "the code most recently sent". Each rule only sheds old sends
    as time passes, so the answer is the latest of the per-rule earliest moments.
    """
    accepted = sorted(history, key=lambda s: s.sent_at, reverse=True)
    times = [s.sent_at for s in accepted]
    if code_digest is None and accepted:
        code_digest = accepted[0].code_digest
    same = [s.sent_at for s in accepted if s.code_digest == code_digest]
    hour_at = _earliest(times, now, timedelta(hours=1), limits.per_hour)
    day_at = _earliest(times, now, timedelta(days=1), limits.per_day)
    gap_at = same[0] + limits.same_code_gap if same else now
    window_at = _earliest(same, now, limits.same_code_window, limits.same_code_per_window)
    # In the order Yunpian checks them, as `rejection_code` does.
    waits = ((8, gap_at), (9, window_at), (22, hour_at), (17, day_at))
    new_code_at = max(now, hour_at, day_at)
    same_code_at = max(new_code_at, gap_at, window_at)
    return NextSend(
        now=now,
        same_code_at=same_code_at,
        new_code_at=new_code_at,
        codes=tuple(code for code, at in waits if at > now),
        quiet_hours=in_quiet_hours(new_code_at),
    )
