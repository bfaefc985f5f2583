"""What a seed writes, counted (`SeedSummary`), and the carrier outages it plays (`Incident`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Incident:
    """A stretch of time in which one carrier's answer rate collapses."""

    carrier: str
    start: datetime
    end: datetime
    answer_rate: float

    def covers(self, carrier: str, at: datetime) -> bool:
        return carrier == self.carrier and self.start <= at < self.end


@dataclass
class SeedSummary:
    """What `seed()` wrote, for tests and the CLI to check against the database."""

    start: datetime
    end: datetime
    sends: int = 0
    accepted: int = 0
    rejected: int = 0
    throttled: int = 0  # codes 8, 9, 17, 22
    answered: int = 0
    failed: int = 0
    pending: int = 0  # accepted, no report yet
    fees: float = 0.0
    numbers: int = 0
    pull_runs: int = 0
    raw_bodies: int = 0
    incidents: list[Incident] = field(default_factory=list)

    def count_accepted(self, fee: float, report: dict | None) -> None:
        """An accepted send and its report (None: still pending)."""
        self.accepted += 1
        self.fees += fee
        if report is None:
            self.pending += 1
        elif report["status"] == "SUCCESS":
            self.answered += 1
        else:
            self.failed += 1
