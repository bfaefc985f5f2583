"""Yunpian's per-number throttle rules as pure functions: would a send be rejected, and when
would it next be accepted. Shared by the seeder (to produce honest 8/9/17/22 rejections) and
the dashboard (to warn before a send the throttle would refuse)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
# Domestic voice codes are not placed in these China-time hours (see the API notes).
QUIET_START = time(22, 0)
QUIET_END = time(7, 30)


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """Per-number limits. The 30 s / 3-in-5-min same-content rules are Yunpian's documented
    ones; the 1 h and 24 h counts are set per account in Yunpian's console, so the defaults
    here are assumptions to adjust."""

    same_code_gap: timedelta = timedelta(seconds=30)  # code 8
    same_code_window: timedelta = timedelta(minutes=5)  # code 9
    same_code_per_window: int = 3
    per_hour: int = 5  # code 22
    per_day: int = 10  # code 17


DEFAULT_LIMITS = ThrottleLimits()


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
    reasons: tuple[str, ...]  # human explanations of every rule that delays a send
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


def _earliest(times_desc: list[datetime], now: datetime, window: timedelta, limit: int):
    """Earliest moment ≥ now at which fewer than `limit` of `times_desc` lie in `window`."""
    recent = [t for t in times_desc if t > now - window]
    if len(recent) < limit:
        return now
    return recent[limit - 1] + window


def rejection_code(
    history: Iterable[AcceptedSend],
    at: datetime,
    code_digest: str,
    limits: ThrottleLimits = DEFAULT_LIMITS,
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
    limits: ThrottleLimits = DEFAULT_LIMITS,
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
    reasons: list[str] = []

    hour_at = _earliest(times, now, timedelta(hours=1), limits.per_hour)
    day_at = _earliest(times, now, timedelta(days=1), limits.per_day)
    if hour_at > now:
        reasons.append(f"{limits.per_hour} sends in the last hour reached the 1 h limit (code 22)")
    if day_at > now:
        reasons.append(f"{limits.per_day} sends in the last 24 h reached the 24 h limit (code 17)")
    new_code_at = max(now, hour_at, day_at)

    gap_at = same[0] + limits.same_code_gap if same else now
    window_at = _earliest(same, now, limits.same_code_window, limits.same_code_per_window)
    if gap_at > now:
        reasons.append("the same code was sent less than 30 s ago (code 8)")
    if window_at > now:
        reasons.append("the same code was sent 3 times in the last 5 min (code 9)")
    same_code_at = max(new_code_at, gap_at, window_at)
    return NextSend(
        now=now,
        same_code_at=same_code_at,
        new_code_at=new_code_at,
        reasons=tuple(reasons),
        quiet_hours=in_quiet_hours(new_code_at),
    )
