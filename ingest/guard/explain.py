"""A guard refusal in words support can read to the user (Lookup and `voicewatch lookup`)."""

from __future__ import annotations

from ingest.guard.live import BLOCKED_CODE
from ingest.guard.rules import APP, COUNTRY, DESTINATION, LISTS, NUMBER, RANGE

__all__ = ["BLOCKED_CODE", "RULE_WORDS", "guard_explanation"]

RULE_WORDS = {
    LISTS: "the number is on the block list",
    DESTINATION: "calls to this country or kind of number are not allowed",
    NUMBER: "this number already got as many codes as allowed this hour or today",
    RANGE: "many numbers next to this one were sent codes within minutes (a pumping pattern)",
    COUNTRY: "far more codes than usual went to this country this hour",
    APP: "the application asking sent more codes this minute than allowed",
}


def guard_explanation(result_msg: str) -> str:
    """ "blocked by guard: <rule>, <mode>" → why, and what support can do about it."""
    rule = result_msg.removeprefix("blocked by guard: ").rsplit(", ", 1)[0]
    why = RULE_WORDS.get(rule, rule)
    return (
        f"{result_msg}: voicewatch refused this send before it reached Yunpian, because {why}; "
        "no call was placed and nothing was charged. If the user is genuine, put the number "
        "on the allow list (Guard page or `voicewatch guard allow NUMBER`) and send again"
    )
