"""Yunpian's harassment prevention: how often one number may get the same content, or any call."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from ingest.numbers import canonical
from ingest.simulator.records import Rejection

SAME_CONTENT_GAP = timedelta(seconds=30)  # code 8
SAME_CONTENT_WINDOW = timedelta(minutes=5)  # code 9: more than 3 in this rolling window
SAME_CONTENT_MAX = 3
HOUR, DAY = timedelta(hours=1), timedelta(hours=24)  # codes 22 and 17
_SWEEP_EVERY = 10_000  # remembered sends between clean-ups of stale histories


class HarassmentGuard:
    """Remembers accepted sends per number and says which throttle, if any, refuses the next.

    Not thread-safe on its own: the world calls it under its lock.
    """

    def __init__(self, limit_per_hour: int | None = None, limit_per_day: int | None = None):
        # The reference names codes 22 and 17 but gives no numbers: off unless configured.
        self.limit_per_hour = limit_per_hour
        self.limit_per_day = limit_per_day
        self._same_content: dict[tuple[str, str], deque[datetime]] = {}
        self._per_number: dict[str, deque[datetime]] = {}
        self._remembered = 0

    @property
    def _limits_numbers(self) -> bool:
        return self.limit_per_hour is not None or self.limit_per_day is not None

    def check(self, mobile: str, content: str, now: datetime) -> Rejection | None:
        """The throttle refusing `content` to `mobile` at `now`, or None."""
        mobile = _one_number(mobile)
        same = self._same_content.get((mobile, content))
        if same:
            _drop_older(same, now - SAME_CONTENT_WINDOW)
            if same and now - same[-1] < SAME_CONTENT_GAP:
                return Rejection(8, "同一手机号30秒内重复提交相同的内容")
            if len(same) >= SAME_CONTENT_MAX:
                return Rejection(9, "同一手机号5分钟内重复提交相同的内容超过3次")
        history = self._per_number.get(mobile)
        if history:
            _drop_older(history, now - DAY)
            last_hour = sum(1 for sent in history if sent > now - HOUR)
            if self.limit_per_hour is not None and last_hour >= self.limit_per_hour:
                return Rejection(22, "1小时内同一手机号发送次数超过限制")
            if self.limit_per_day is not None and len(history) >= self.limit_per_day:
                return Rejection(17, "24小时内同一手机号发送次数超过限制")
        return None

    def remember(self, mobile: str, content: str, now: datetime) -> None:
        """Count an accepted send. (Believed: refused sends do not count toward any window.)"""
        mobile = _one_number(mobile)
        self._same_content.setdefault((mobile, content), deque()).append(now)
        if self._limits_numbers:
            self._per_number.setdefault(mobile, deque()).append(now)
        self._remembered += 1
        if self._remembered % _SWEEP_EVERY == 0:
            self._sweep(now)

    def _sweep(self, now: datetime) -> None:
        # Without this, a million distinct numbers would keep a million stale histories.
        for key in [
            k for k, times in self._same_content.items() if times[-1] <= now - SAME_CONTENT_WINDOW
        ]:
            del self._same_content[key]
        for key in [k for k, times in self._per_number.items() if times[-1] <= now - DAY]:
            del self._per_number[key]


def _one_number(mobile: str) -> str:
    """Believed: Yunpian counts `15205201314` and `+8615205201314` as one number."""
    return canonical(mobile) or mobile


def _drop_older(times: deque[datetime], cutoff: datetime) -> None:
    while times and times[0] <= cutoff:
        times.popleft()
