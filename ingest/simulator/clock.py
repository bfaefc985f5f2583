"""Clocks for the simulator: the system's, and a hand-moved one so tests never sleep."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (`advance`, `set`).

    With `ticking=True` it also moves with real time from where it was put, so reports due
    in 0.05 s arrive on their own while tests can still jump over 30 s throttle windows.
    """

    def __init__(self, start: datetime, *, ticking: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware datetime, got naive {start!r}")
        self._lock = threading.Lock()
        self._ticking = ticking
        self._base = start.astimezone(UTC)
        self._since = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            return self._base + self._elapsed()

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds`; returns the new now."""
        with self._lock:
            self._base += timedelta(seconds=seconds)
            return self._base + self._elapsed()

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (aware), forwards or backwards."""
        if moment.tzinfo is None:
            raise ValueError(f"ManualClock.set needs an aware datetime, got naive {moment!r}")
        with self._lock:
            self._base = moment.astimezone(UTC)
            self._since = time.monotonic()

    def _elapsed(self) -> timedelta:
        if not self._ticking:
            return timedelta(0)
        return timedelta(seconds=time.monotonic() - self._since)
