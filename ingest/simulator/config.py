"""Everything that makes one simulated Yunpian account behave the way a test or demo wants."""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from ingest.settings import DEMO_APIKEY  # the demo key voicewatch uses when none is configured

# Template 1136 is the example in Yunpian's tpl_notify documentation.
DEFAULT_TEMPLATES: dict[int, str] = {1136: "课程#name#在#time#开始。"}

_SHARES = (
    "fault_5xx",
    "fault_malformed",
    "fault_drop_push",
    "fault_duplicate_push",
    "fault_reorder",
)


@dataclass(frozen=True)
class SimulatorConfig:
    """One account on the simulated Yunpian voice service, plus fault switches.

    Times named `call_delay` are simulated (they follow the world's clock); `push_*` waits
    and `fault_latency` are real seconds, because they pace real network traffic.
    """

    apikey: str = DEMO_APIKEY
    balance: float = 10_000
    fee: float = 1  # per call; the reference example answers {"count": 1, "fee": 1, ...}
    seed: int | None = None  # None: a different run every time
    call_delay: float | None = None  # send -> report; None: realistic, random 8-45 s
    quiet_hours: bool = True  # no domestic voice codes 22:00-07:30 China time
    push_url: str | None = None  # account-wide push address ("Data Push and Get" console)
    templates: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    # Per-number limits behind codes 22 and 17. The reference names the codes but gives no
    # numbers, so they are off unless configured.
    limit_per_hour: int | None = None
    limit_per_day: int | None = None
    # Believed: Yunpian retries a failed push "a few times with growing delay".
    push_retry_base: float = 10.0  # first retry wait; doubles with each failed attempt
    push_max_attempts: int = 8
    push_batch_size: int = 500  # reference: up to 500 reports per push
    push_poll_interval: float = 0.5  # how often the push worker looks for due reports
    push_timeout: float = 10.0
    fault_5xx: float = 0.0  # share of API requests answered 500 (-51/-50), before any change
    fault_latency: float = 0.0  # seconds added to every API answer
    fault_malformed: float = 0.0  # share of API answers truncated to non-JSON
    fault_drop_push: float = 0.0  # share of push deliveries silently not sent
    fault_duplicate_push: float = 0.0  # share of acknowledged pushed reports pushed again
    fault_reorder: float = 0.0  # share of push batches and pull pages delivered shuffled

    def __post_init__(self) -> None:
        for name in _SHARES:
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} is a share between 0 and 1, got {share!r}")
        if len(self.apikey) != 32:
            raise ValueError(
                f"apikey must be 32 characters (Yunpian's format), got {len(self.apikey)}"
            )
        if self.fee < 0 or self.balance < 0:
            raise ValueError(f"fee and balance cannot be negative: {self.fee!r}, {self.balance!r}")
        if self.push_max_attempts < 1 or not 1 <= self.push_batch_size <= 500:
            raise ValueError("push_max_attempts must be >= 1 and push_batch_size within 1..500")


def seeded_random(seed: int | None, purpose: str) -> Random:
    """An independent random stream per purpose, so switching a fault on does not change
    which calls are answered. No seed: a different stream every run."""
    return Random(f"{seed}/{purpose}") if seed is not None else Random()
