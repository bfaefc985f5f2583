"""Synthetic users: a steady stream of voice-code sends in Yunpian's wire format.

Numbers come from a pool mixing carriers and provinces, some fixed lines and foreign numbers,
and a few impatient users who ask again within 30 s, so throttling shows up like in life.
Every hour alike; with quiet hours, domestic numbers are not called 22:00–07:30 China time (the
demo's seeded history, `ingest.seed.live`, is drawn from these same users and shape).
The target is any server speaking Yunpian's format: the simulator, or a relay in front of it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random

import httpx

from ingest.numbers import NumberInfo, describe, mask
from ingest.throttle import in_quiet_hours

log = logging.getLogger(__name__)

SEND_PATH = "/v2/voice/send.json"
HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
    "Accept": "application/json;charset=utf-8",
}

# Number-range prefixes by carrier, weighted roughly by market share.
_MOBILE_PREFIXES: tuple[tuple[tuple[str, ...], int], ...] = (
    (("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157"), 28),
    (("158", "159", "178", "182", "183", "184", "187", "188", "198"), 22),  # China Mobile too
    (("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186"), 25),
    (("133", "149", "153", "173", "177", "180", "181", "189", "191", "199"), 22),
    (("192",), 3),  # China Broadnet
)
_FIXED_LINE_AREAS = ("010", "021", "020", "0755", "0571", "028")
# (prefix, random digits after it): Japan, Singapore, Hong Kong, US, Germany, Australia,
# Taiwan, Macao, Vietnam.
_FOREIGN_FORMS = (
    ("+8190", 8),
    ("+6591", 6),
    ("+85291", 6),
    ("+1415", 7),
    ("+49151", 8),
    ("+614", 8),
    ("+8869", 8),
    ("+8536", 7),
    ("+8491", 7),
)
_KIND_WEIGHTS = (("mobile", 90), ("fixed line", 5), ("foreign", 5))
_CODE_LENGTHS = ((6, 70), (4, 20), (5, 10))
RETRY_LOOP_SHARE = 0.03  # users who keep pressing "call me again"
RESENDS = (1, 3)  # how many extra sends a retry-loop user makes, each 3-20 s after the last
RESEND_GAP = (3.0, 20.0)
UID_SHARE = 0.3  # share of sends carrying the sender's own id

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """Sends per second from "2/s", "30/m", "100/h" or a bare number (per second)."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(
            f"rate {text!r}: expected a positive number per s, m or h, e.g. 2/s or 30/m"
        )
    return float(match.group(1)) / _PER[match.group(2) or "s"]


@dataclass(frozen=True, slots=True)
class Subscriber:
    mobile: str
    retry_loop: bool = False


@dataclass
class TrafficStats:
    """What the synthetic users saw."""

    sent: int = 0
    accepted: int = 0
    rejected: Counter[int] = field(default_factory=Counter)  # by return code
    failed: int = 0  # no usable answer: network error or non-JSON


def _weighted(rng: Random, options: tuple[tuple[object, int], ...]) -> object:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


def _digits(rng: Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def random_number(rng: Random) -> str:
    """A realistic number Yunpian accepts: mostly Chinese mobiles, some fixed lines, some foreign."""
    kind = _weighted(rng, _KIND_WEIGHTS)
    if kind == "mobile":
        prefixes = _weighted(rng, _MOBILE_PREFIXES)
        return rng.choice(prefixes) + _digits(rng, 8)
    if kind == "fixed line":
        return rng.choice(_FIXED_LINE_AREAS) + rng.choice("2345678") + _digits(rng, 7)
    prefix, count = rng.choice(_FOREIGN_FORMS)
    return prefix + _digits(rng, count)


def random_code(rng: Random) -> str:
    """A verification code of 4-6 digits; leading zeros happen."""
    return _digits(rng, _weighted(rng, _CODE_LENGTHS))


def subscriber_pool(rng: Random, size: int = 500) -> list[Subscriber]:
    return [Subscriber(random_number(rng), rng.random() < RETRY_LOOP_SHARE) for _ in range(size)]


class SyntheticUsers:
    """Who sends next: a due resend from an impatient user, else someone from the pool."""

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.pool = subscriber_pool(rng)
        self._resends: list[tuple[float, int, str, str]] = []  # (monotonic due, seq, mobile, code)
        self._seq = itertools.count()

    def next_send(self, now: float) -> tuple[str, str]:
        if self._resends and self._resends[0][0] <= now:
            _, _, mobile, code = heapq.heappop(self._resends)
            return mobile, code
        subscriber = self.rng.choice(self.pool)
        code = random_code(self.rng)
        if subscriber.retry_loop:
            at = now
            for _ in range(self.rng.randint(*RESENDS)):
                at += self.rng.uniform(*RESEND_GAP)
                heapq.heappush(self._resends, (at, next(self._seq), subscriber.mobile, code))
        return subscriber.mobile, code


def asleep(where: NumberInfo, at: datetime, quiet_hours: bool) -> bool:
    """Whether the synthetic users leave this number alone at `at`: a domestic one in quiet
    hours, when those are on (Yunpian would refuse the call; the users' apps do not ask)."""
    return quiet_hours and where.domestic and in_quiet_hours(at)


def run_traffic(
    target_url: str,
    apikey: str,
    rate_per_s: float,
    callback_url: str | None = None,
    *,
    seed: int | None = None,
    stop_event: threading.Event | None = None,
    max_sends: int | None = None,
    quiet_hours: bool = False,
) -> TrafficStats:
    """Send voice codes to `target_url` at about `rate_per_s` (Poisson arrivals) until
    `stop_event` is set or `max_sends` were made; with `quiet_hours`, domestic numbers are
    skipped in the China-time night. Blocks; run it in a thread."""
    if rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
    rng = Random(seed)
    stop = stop_event or threading.Event()
    users = SyntheticUsers(rng)
    stats = TrafficStats()
    next_at = time.monotonic()
    with httpx.Client(base_url=target_url.rstrip("/"), headers=HEADERS, timeout=10) as client:
        while max_sends is None or stats.sent < max_sends:
            if stop.wait(max(0.0, next_at - time.monotonic())):
                break
            next_at += rng.expovariate(rate_per_s)
            mobile, code = users.next_send(time.monotonic())
            if asleep(describe(mobile), datetime.now(UTC), quiet_hours):
                continue
            form = {"apikey": apikey, "mobile": mobile, "code": code}
            if callback_url:
                form["callback_url"] = callback_url
            if rng.random() < UID_SHARE:
                form["uid"] = f"u{rng.randrange(10**9):09d}"
            _send(client, form, stats)
    return stats


def _send(client: httpx.Client, form: dict[str, str], stats: TrafficStats) -> None:
    stats.sent += 1
    try:
        answer = client.post(SEND_PATH, data=form).json()
    except (httpx.HTTPError, ValueError) as error:
        stats.failed += 1
        log.info("traffic send to %s failed: %s", mask(form["mobile"]), error)
        return
    code = answer.get("code", 0) if isinstance(answer, dict) else None
    if code == 0 and "sid" in answer:
        stats.accepted += 1
    elif isinstance(code, int) and code != 0:
        stats.rejected[code] += 1
    else:
        stats.failed += 1
