"""What support reads about one call, in the viewer's language: a call's outcome, why a send
was refused and what to do, why a report failed, when the number can be sent to again.

Shared by `voicewatch lookup` / `voicewatch send` and the dashboard's Lookup and Send test
pages, so both say the same thing in the same words.

One meaning of time, everywhere: `user_receive_time` is when the call ENDED: an answered call
hung up, an unanswered one stopped ringing or was refused (../shared/yunpian-voice-api.md,
"Report fields": "the call ended / was received"; the simulator sets it when the call
settles). It is shown as "call ended", and "send → call ended" is the time from the send to
it, answered or not. Nothing here says "answered after".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.i18n import N_, Language
from ingest.numbers import as_sent, describe, looks_like_mobile
from ingest.throttle import ThrottleLimits
from ingest.yunpian import codes
from ingest.yunpian.reasons import CATEGORY_LABELS, explain

CHINA = ZoneInfo("Asia/Shanghai")

# A call's outcome, one word each, the same on every page and in the CLI.
ANSWERED = N_("answered")
NOT_ANSWERED = N_("not answered")
NO_REPORT = N_("no report")
AWAITING_REPORT = N_("waiting for its report")
REFUSED = N_("refused by Yunpian")
UNKNOWN_OUTCOME = N_("unknown outcome")
NOT_SENT = N_("not sent")
CALL_ENDED = N_("call ended")
SEND_TO_END = N_("send → call ended")

_ADVICE = {
    codes.Category.THROTTLE: N_(
        "The number has reached one of Yunpian's per-number limits: wait until the time shown, "
        "or send a new code if only the same code is refused."
    ),
    codes.Category.INPUT: N_("Check the number and the code, then send again."),
    codes.Category.AUTH: N_(
        "The apikey or the server's IP is not allowed: check YUNPIAN_APIKEY and the IP "
        "whitelist in Yunpian's console."
    ),
    codes.Category.BALANCE: N_("Top up the Yunpian account, then send again."),
    codes.Category.SERVER: N_("A fault at Yunpian: retry in a minute; check Ingest health."),
    codes.Category.OTHER: N_("See Yunpian's console for this code, or contact Yunpian support."),
}
_WAITS = {
    8: N_("the same code was sent to the number less than 30 s ago (code 8)"),
    9: N_("the same code was sent to the number 3 times in the last 5 min (code 9)"),
}


def refusal(code: int, language: Language) -> tuple[str, str]:
    """A refusal code's meaning (Yunpian's own words in Chinese) and what to do."""
    known = codes.lookup(code)
    meaning = known.msg if language.chinese and known.msg else known.meaning
    return meaning, language.gettext(_ADVICE[known.category])


def refusal_message(code: int, language: Language) -> str:
    """One line: `code 8: same content to the number within 30 s. Wait until …`."""
    meaning, advice = refusal(code, language)
    return language.gettext("code {code}: {meaning}. {advice}").format(
        code=code, meaning=meaning, advice=advice
    )


def wait_reason(code: int, limits: ThrottleLimits, language: Language) -> str:
    """Why a send to the number waits, for a throttle code of `ingest.throttle.NextSend`."""
    if code == 22:
        return language.ngettext(
            "{n} send in the last hour reached the account's 1 h limit (code 22)",
            "{n} sends in the last hour reached the account's 1 h limit (code 22)",
            limits.per_hour or 0,
        ).format(n=limits.per_hour)
    if code == 17:
        return language.ngettext(
            "{n} send in the last 24 h reached the account's 24 h limit (code 17)",
            "{n} sends in the last 24 h reached the account's 24 h limit (code 17)",
            limits.per_day or 0,
        ).format(n=limits.per_day)
    return language.gettext(_WAITS[code])


def limits_in_force(limits: ThrottleLimits, language: Language) -> str:
    """The per-number limits the predictions use, as a sentence."""
    none = language.gettext("none")
    return language.gettext(
        "Limits in force: same code 30 s apart and 3 per 5 min; per number {hour} per hour, "
        "{day} per 24 h (VOICEWATCH_LIMIT_PER_HOUR, VOICEWATCH_LIMIT_PER_DAY)."
    ).format(
        hour=limits.per_hour if limits.per_hour is not None else none,
        day=limits.per_day if limits.per_day is not None else none,
    )


def when(moment: datetime, now: datetime, language: Language) -> str:
    """A moment in China time: the time alone when it is today there, else with the date.
    A naive moment is China time already (the dashboard's tables hold them so)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    local, today = moment.astimezone(CHINA), now.astimezone(CHINA)
    return language.datetime(local, with_date=local.date() != today.date())


def wait_text(at: datetime, now: datetime, language: Language) -> str:
    """`now`, or `in 22 hr, 1 min (Dec 3, 12:06:50)`."""
    if at <= now:
        return language.gettext("now")
    return language.gettext("in {span} ({at})").format(
        span=language.duration(at - now), at=when(at, now, language)
    )


def report_reason(error_msg: str | None, language: Language) -> tuple[str, str, str]:
    """A failed report's reason: its category, its meaning and the advice, in `language`;
    an unknown reason comes back as it came."""
    reason = explain(error_msg)
    english, chinese = CATEGORY_LABELS[reason.category]
    if language.chinese:
        return chinese, reason.meaning_zh, reason.advice_zh
    return english, reason.meaning_en, reason.advice_en


def call_outcome(
    state: str | None,
    status: str | None,
    sent_at: datetime | None,
    now: datetime,
    no_report_after: timedelta,
) -> str:
    """One of the outcome words above (untranslated: pass it to gettext to show it)."""
    if status == "SUCCESS":
        return ANSWERED
    if status == "FAIL":
        return NOT_ANSWERED
    if state == "rejected":
        return REFUSED
    if state == "not sent":
        return NOT_SENT
    if state == "unknown":
        return UNKNOWN_OUTCOME
    if sent_at is not None and now - sent_at > no_report_after:
        return NO_REPORT
    return AWAITING_REPORT


def call_problems(mobile: str, code: str, language: Language) -> list[str]:
    """What is wrong with a test call's number and code, checked before anything is sent or
    recorded: a number Yunpian would not call, a code that is not 4 to 6 digits. The number
    may be written any common way (`as_sent` gives the form to send)."""
    problems = []
    sent = as_sent(mobile)
    if sent is None or not looks_like_mobile(sent) or not describe(sent).valid:
        problems.append(
            language.gettext(
                "{number!r} is not a phone number Yunpian calls: write a domestic mobile "
                "(11 digits, 1xxxxxxxxxx) or + and the country code"
            ).format(number=mobile[:40])
        )
    if not re.fullmatch(r"[0-9]{4,6}", code):
        problems.append(
            language.gettext("the code must be 4 to 6 digits, got {length}").format(
                length=len(code)
            )
        )
    return problems
