"""How a simulated call ends: answered or not, for how long, and the failure text Yunpian reports.

Rates and weights are our estimates of typical voice-code delivery in China, not Yunpian
figures; the failure texts are ones seen in Yunpian reports ("Send Exception",
"用户信号不佳、关机等" and "failed" appear in the reference) and in public integrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from ingest.numbers import NumberInfo

ANSWER_RATES: dict[str, float] = {
    "China Mobile": 0.85,
    "China Unicom": 0.80,
    "China Telecom": 0.78,
    "China Broadnet": 0.76,
    "fixed line": 0.65,  # desks are often empty
}
OTHER_DOMESTIC_ANSWER_RATE = 0.72  # virtual operators and numbers without carrier data
FOREIGN_ANSWER_RATE = 0.60  # international routes drop more calls

ANSWERED_SECONDS = (8, 40)  # the code is played twice, then most people hang up

_MOBILE_FAILURES: tuple[tuple[str, int], ...] = (
    ("无人接听", 30),
    ("用户拒接", 20),
    ("用户忙", 12),
    ("用户关机", 12),
    ("用户信号不佳、关机等", 10),
    ("停机", 6),
    ("空号", 5),
    ("Send Exception", 5),
)
_FIXED_LINE_FAILURES: tuple[tuple[str, int], ...] = (
    ("无人接听", 50),
    ("用户忙", 25),
    ("空号", 10),
    ("Send Exception", 15),
)
_FOREIGN_FAILURES: tuple[tuple[str, int], ...] = (("failed", 70), ("Send Exception", 30))


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The end of one simulated call, as a report will tell it."""

    answered: bool
    duration: int  # seconds; 0 when not answered
    error_msg: str | None  # None when answered

    @property
    def report_status(self) -> str:
        return "SUCCESS" if self.answered else "FAIL"


def answer_rate(info: NumberInfo) -> float:
    """The chance that a call to a number of this kind is answered."""
    if not info.domestic:
        return FOREIGN_ANSWER_RATE
    return ANSWER_RATES.get(info.carrier, OTHER_DOMESTIC_ANSWER_RATE)


def decide_outcome(info: NumberInfo, rng: Random) -> CallOutcome:
    """Draw how a call to a number described by `info` ends."""
    if not info.valid:
        # A number of the right shape that no carrier has assigned rings nowhere.
        return CallOutcome(False, 0, "空号" if info.domestic else "failed")
    if rng.random() < answer_rate(info):
        return CallOutcome(True, rng.randint(*ANSWERED_SECONDS), None)
    if not info.domestic:
        failures = _FOREIGN_FAILURES
    elif info.carrier == "fixed line":
        failures = _FIXED_LINE_FAILURES
    else:
        failures = _MOBILE_FAILURES
    texts, weights = zip(*failures, strict=True)
    return CallOutcome(False, 0, rng.choices(texts, weights)[0])
