"""Why a call failed, in plain words: the report `error_msg` values seen from Yunpian and the
carriers, each with a category, a meaning and advice for support, in Chinese and English.

Yunpian does not publish a list of these texts: the ones below are those seen in reports
(the wire reference quotes "Send Exception", "用户信号不佳、关机等" and "failed") and in public
integrations. An unknown text is kept as it came, in the category UNKNOWN, so it can be
counted and the table can grow.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What kind of failure a report's reason is, for support and for charts."""

    NO_ANSWER = "no_answer"  # rang, nobody picked up, or the user declined
    NO_SUCH_NUMBER = "no_such_number"
    PHONE_OFF = "phone_off"  # off, out of coverage, suspended
    # The user or the carrier blocks such calls; no report text for it has been seen yet.
    BLOCKED = "blocked"
    PLATFORM = "platform"  # carrier or Yunpian fault: nothing the user did
    UNKNOWN = "unknown"


CATEGORY_LABELS: dict[Category, tuple[str, str]] = {  # (English, Chinese)
    Category.NO_ANSWER: ("user did not answer", "用户未接听"),
    Category.NO_SUCH_NUMBER: ("number does not exist", "号码不存在"),
    Category.PHONE_OFF: ("phone off or out of service", "关机或停机"),
    Category.BLOCKED: ("blocked", "被拦截"),
    Category.PLATFORM: ("carrier or platform fault", "运营商或平台故障"),
    Category.UNKNOWN: ("reason not known to voicewatch", "未知原因"),
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One report reason explained."""

    text: str  # as Yunpian's report words it
    category: Category
    meaning_en: str
    meaning_zh: str
    advice_en: str
    advice_zh: str

    @property
    def known(self) -> bool:
        return self.category is not Category.UNKNOWN


_RETRY = ("Retry later; ask the user to keep the phone at hand.", "稍后重试，请用户留意来电。")
_CHECK = ("Check the number with the user.", "请与用户核对号码。")
_LATER = ("Retry later or offer an SMS code.", "稍后重试，或改用短信验证码。")

REASONS: dict[str, Reason] = {
    reason.text: reason
    for reason in (
        Reason("无人接听", Category.NO_ANSWER, "rang, nobody answered", "无人接听", *_RETRY),
        Reason(
            "用户拒接",
            Category.NO_ANSWER,
            "the user declined the call",
            "用户拒接",
            "Tell the user the code comes by phone call from an unknown number; retry.",
            "告知用户验证码以陌生号码来电播报，请接听后重试。",
        ),
        Reason("用户忙", Category.NO_ANSWER, "the line was busy", "用户正在通话中", *_RETRY),
        Reason("空号", Category.NO_SUCH_NUMBER, "the number does not exist", "号码不存在", *_CHECK),
        Reason(
            "用户关机",
            Category.PHONE_OFF,
            "the phone was switched off",
            "用户手机关机",
            "Ask the user to switch the phone on, then retry.",
            "请用户开机后重试。",
        ),
        Reason(
            "停机",
            Category.PHONE_OFF,
            "the number is suspended (unpaid)",
            "号码已停机",
            "The user must restore service with the carrier; offer another channel.",
            "用户需向运营商恢复服务；可改用其他验证方式。",
        ),
        Reason(
            "用户信号不佳、关机等",
            Category.PHONE_OFF,
            "no signal, switched off or similar",
            "用户信号不佳或关机",
            "Ask the user to move to better coverage, then retry.",
            "请用户到信号较好处后重试。",
        ),
        Reason(
            "Send Exception",
            Category.PLATFORM,
            "the call could not be placed",
            "呼叫发起失败",
            *_LATER,
        ),
        Reason(
            "failed",
            Category.PLATFORM,
            "the call failed (foreign carrier gave no reason)",
            "呼叫失败（境外运营商未给出原因）",
            *_LATER,
        ),
    )
}


def explain(error_msg: str | None) -> Reason:
    """The explanation of a report's `error_msg`; unknown texts come back as they are."""
    text = _normal(error_msg or "")
    found = REASONS.get(text)
    if found is not None:
        return found
    return Reason(
        text,
        Category.UNKNOWN,
        text or "no reason given",
        text or "未给出原因",
        "Shown as Yunpian sent it; retry later, and report it if it recurs.",
        "按云片原文显示；稍后重试，如反复出现请反馈。",
    )


def _normal(text: str) -> str:
    # Full-width and compatibility forms fold to one spelling, so "Send　Exception" matches.
    return " ".join(unicodedata.normalize("NFKC", text).split())
