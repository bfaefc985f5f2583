"""`voicewatch lookup` output: the stored timeline of a number or sid, as text or JSON.

A number is found however it is written (ingest.numbers.canonical); a partial number lists
the stored numbers it may mean; a sid shows its call within its number's history, marked.
Times carry their zone; reasons and refusals are explained (ingest/support.py).

Every stored text came from outside (Yunpian, a pusher, a relay caller): it is printed without
control codes (a report's error_msg must not drive the viewer's terminal) and with the numbers
in it masked unless --unmask."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from ingest.guard.explain import BLOCKED_CODE, guard_explanation
from ingest.i18n import Language
from ingest.numbers import (
    as_sent,
    describe,
    looks_like_mobile,
    mask,
    mask_in_text,
    partial_number,
)
from ingest.places import place_name
from ingest.store.lookup import Call, candidates, lookup
from ingest.store.models import ACCEPTED, JOINED, REJECTED, UNKNOWN, Send
from ingest.support import (
    ANSWERED,
    CHINA,
    NOT_ANSWERED,
    call_outcome,
    limits_in_force,
    refusal_message,
    report_reason,
    wait_reason,
    wait_text,
)
from ingest.text import printable
from ingest.throttle import NO_ACCOUNT_LIMITS, AcceptedSend, ThrottleLimits, next_send


class NothingStored(LookupError):
    """Nothing matched the query; the message says so, in the viewer's language."""


def render_lookup(
    engine: Engine,
    query: str,
    *,
    as_json: bool = False,
    unmask: bool = False,
    language: Language | None = None,
    now: datetime | None = None,
    no_report_after: timedelta = timedelta(minutes=15),
    limits: ThrottleLimits = NO_ACCOUNT_LIMITS,
) -> str:
    """The text (or JSON) `voicewatch lookup` prints; NothingStored when nothing matched.
    The text ends with when the number can next be sent to, under `limits`."""
    lang = language or Language()
    show = printable if unmask else (lambda number: printable(mask(number)))
    partial = partial_number(query)
    if partial is not None:
        return _choices(engine, query, partial, lang, show, as_json)
    calls = lookup(engine, query)
    marked = None
    found = (calls[0].send or calls[0].report) if calls else None
    # A sid (in any case): its call in its number's history. A number written any other way
    # (138-0013-8000) matched as a number and marks nothing.
    if found is not None and (found.sid or "").lower() == query.strip().lower():
        marked = found.sid
        calls = lookup(engine, found.number or found.mobile)
    if not calls:
        shown = show(query) if looks_like_mobile(query) else printable(query)
        raise NothingStored(lang.gettext("nothing stored for {query}").format(query=shown))
    # JSON is for machines: English words, and a sid's own events only.
    words = Language() if as_json else lang
    now = now or datetime.now(UTC)
    events = _events(calls, unmask, now, no_report_after, words)
    if as_json:
        return json.dumps(
            [
                {**event, "at": event["at"].isoformat()}
                for event in events
                if marked is None or event["sid"] == marked
            ],
            ensure_ascii=False,
            indent=2,
        )
    return "\n".join(
        [*_text(calls, events, marked, show, lang), *_next_send(calls, now, limits, lang)]
    )


def _next_send(calls: list[Call], now: datetime, limits: ThrottleLimits, lang: Language):
    """When Yunpian would next accept a send to the number, and the limits that says so."""
    history = [
        AcceptedSend(c.send.sent_at, c.send.code_digest)
        for c in calls
        if c.send is not None
        and c.send.result_code == 0
        and c.send.sent_at > now - timedelta(days=1)
    ]
    nxt = next_send(history, now, limits=limits)
    yield lang.gettext("next accepted send: same code {same}; a new code {new}").format(
        same=wait_text(nxt.same_code_at, now, lang), new=wait_text(nxt.new_code_at, now, lang)
    )
    for code in nxt.codes:
        yield "  " + wait_reason(code, limits, lang)
    yield limits_in_force(limits, lang)


def _text(calls: list[Call], events: list[dict], marked, show, lang: Language) -> list[str]:
    first = next(c.send or c.report for c in calls)
    info = describe(first.mobile)
    sends = sum(call.send is not None for call in calls)
    reports = sum(call.report is not None for call in calls)
    counts = ", ".join(
        (
            lang.ngettext("{n} send", "{n} sends", sends).format(n=sends),
            lang.ngettext("{n} report", "{n} reports", reports).format(n=reports),
        )
    )
    where = ", ".join(place_name(name, lang) for name in (info.carrier, info.province))
    lines = [f"{show(first.mobile)} — {where} ({counts})"]
    for event in events:
        when = event["at"].astimezone(CHINA).isoformat(sep=" ", timespec="seconds")
        mark = "▶" if marked is not None and event["sid"] == marked else " "
        lines.append(
            f"{mark} {when}  {event['what']:<6} {event['outcome']:<14} "
            f"sid={event['sid'] or '-'}  {event['why'] or ''}".rstrip()
        )
    lines.append(
        lang.gettext(
            "A send's time is when it was sent; a report's is when its call ended "
            "(user_receive_time)."
        )
    )
    return lines


def _events(
    calls: list[Call], unmask: bool, now: datetime, no_report_after: timedelta, lang: Language
) -> list[dict]:
    show = printable if unmask else (lambda number: printable(mask(number)))
    text = printable if unmask else (lambda value: printable(mask_in_text(value)))
    events = []
    for call in calls:
        send, report = call.send, call.report
        if send is not None:
            outcome = call_outcome(
                send.state, report.status if report else None, send.sent_at, now, no_report_after
            )
            events.append(
                {
                    "at": send.sent_at,
                    "what": lang.gettext("send"),
                    "mobile": show(send.mobile),
                    "sid": text(send.sid) or None,
                    "result": _send_result(send),
                    "outcome": lang.gettext(outcome),
                    "why": _send_why(send, text, lang),
                    "fee": send.fee,
                    "source": text(send.source),
                }
            )
        if report is not None:
            events.append(_report_event(report, show, text, lang))
    events.sort(key=lambda event: event["at"], reverse=True)
    return events


def _report_event(report, show, text, lang: Language) -> dict:
    answered = report.status == "SUCCESS"
    if answered:
        why = lang.gettext("call lasted {duration}").format(
            duration=lang.duration(timedelta(seconds=report.duration or 0))
        )
    else:
        category, meaning, advice = report_reason(report.error_msg, lang)
        said = text(report.error_msg) or "-"
        meaning = "" if meaning == report.error_msg else f": {text(meaning)}"
        why = f"{said} — {category}{meaning}. {advice}"
    return {
        # `user_receive_time`: when the call ended (ingest/support.py).
        "at": report.user_receive_time or report.first_seen,
        "what": lang.gettext("report"),
        "mobile": show(report.mobile),
        "sid": text(report.sid),
        "result": text(report.status),
        "outcome": lang.gettext(ANSWERED if answered else NOT_ANSWERED),
        "why": why,
        "duration_s": report.duration,
        "via": "+".join(
            v for v, flag in (("push", report.via_push), ("pull", report.via_pull)) if flag
        ),
    }


def _choices(engine: Engine, query: str, partial, lang: Language, show, as_json: bool) -> str:
    """The stored numbers a partial number may mean, to look up one of them."""
    found = candidates(engine, partial)
    if not found:
        raise NothingStored(
            lang.gettext("no stored number matches {query}").format(query=printable(query))
        )
    if as_json:
        return json.dumps([{"number": show(as_sent(c.number)), "sends": c.sends} for c in found])
    lines = [
        lang.ngettext(
            "{n} stored number matches {query}; look one up by its full number:",
            "{n} stored numbers match {query}; look one up by its full number:",
            len(found),
        ).format(n=len(found), query=printable(query))
    ]
    for choice in found:
        sends = lang.ngettext("{n} send", "{n} sends", choice.sends).format(n=choice.sends)
        info = describe(choice.number)
        lines.append(
            f"  {show(as_sent(choice.number) or choice.number)}  "
            f"{info.carrier}, {info.province} ({sends})"
        )
    return "\n".join(lines)


def _send_result(send: Send) -> str:
    """accepted, accepted (joined), unknown, not sent, or rejected with Yunpian's code."""
    if send.result_code == BLOCKED_CODE:
        return "blocked by guard"
    return f"rejected {send.result_code}" if send.state == REJECTED else send.state


def _send_why(send: Send, text: Callable[[str | None], str], lang: Language) -> str | None:
    """Why a send is not simply accepted, with Yunpian's text made safe by `text`."""
    if send.state == ACCEPTED:
        return None
    if send.state == JOINED:
        return lang.gettext("accepted (joined): Yunpian's answer was lost; joined to the report")
    if send.state == UNKNOWN:
        return lang.gettext(
            "{msg}: the call may have been placed; a report for the number within 10 minutes "
            "will join it"
        ).format(msg=text(send.result_msg))
    if send.result_code == BLOCKED_CODE:
        return guard_explanation(text(send.result_msg))
    if send.state == REJECTED:
        return refusal_message(send.result_code, lang)
    return text(send.result_msg)
