"""`voicewatch lookup` output: the stored timeline of a number or sid, as text or JSON.

Every stored text came from outside (Yunpian, a pusher, a relay caller): it is printed without
control codes (a report's error_msg must not drive the viewer's terminal) and with the numbers
in it masked unless --unmask."""

from __future__ import annotations

import json
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from ingest.guard.explain import BLOCKED_CODE, guard_explanation
from ingest.numbers import describe, looks_like_mobile, mask, mask_in_text
from ingest.store.lookup import lookup
from ingest.store.models import ACCEPTED, JOINED, REJECTED, UNKNOWN, Send
from ingest.text import printable
from ingest.yunpian.codes import lookup as code_meaning

CHINA = ZoneInfo("Asia/Shanghai")


def render_lookup(
    engine: Engine, query: str, *, as_json: bool = False, unmask: bool = False
) -> str:
    calls = lookup(engine, query)
    sends = [call.send for call in calls if call.send is not None]
    reports = [call.report for call in calls if call.report is not None]
    show = printable if unmask else (lambda number: printable(mask(number)))
    text = printable if unmask else (lambda value: printable(mask_in_text(value)))
    events = [
        {
            "at": send.sent_at,
            "what": "send",
            "mobile": show(send.mobile),
            "sid": text(send.sid) or None,
            "result": _send_result(send),
            "why": _send_why(send, text),
            "fee": send.fee,
            "source": text(send.source),
        }
        for send in sends
    ] + [
        {
            "at": report.user_receive_time or report.first_seen,
            "what": "report",
            "mobile": show(report.mobile),
            "sid": text(report.sid),
            "result": text(report.status),
            "why": text(report.error_msg) or None,
            "duration_s": report.duration,
            "via": "+".join(
                v for v, flag in (("push", report.via_push), ("pull", report.via_pull)) if flag
            ),
        }
        for report in reports
    ]
    events.sort(key=lambda event: event["at"], reverse=True)
    if as_json:
        return json.dumps(
            [{**event, "at": event["at"].isoformat()} for event in events],
            ensure_ascii=False,
            indent=2,
        )
    if not events:
        return f"nothing stored for {show(query) if looks_like_mobile(query) else text(query)}"
    first = sends[0].mobile if sends else reports[0].mobile
    info = describe(first)
    lines = [
        f"{show(first)} — {info.carrier}, {info.province} ({len(sends)} sends, {len(reports)} reports)"
    ]
    for event in events:
        when = event["at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        extra = event.get("why") or ""
        if event["what"] == "report" and event["result"] == "SUCCESS":
            extra = f"answered, {event['duration_s']} s"
        lines.append(
            f"{when}  {event['what']:<6} {event['result']:<14} sid={event['sid'] or '-'}  {extra}"
        )
    return "\n".join(lines)


def _send_result(send: Send) -> str:
    """accepted, accepted (joined), unknown, not sent, or rejected with Yunpian's code."""
    if send.result_code == BLOCKED_CODE:
        return "blocked by guard"
    return f"rejected {send.result_code}" if send.state == REJECTED else send.state


def _send_why(send: Send, text: Callable[[str | None], str]) -> str | None:
    """Why a send is not simply accepted, with Yunpian's text made safe by `text`."""
    if send.state == ACCEPTED:
        return None
    if send.state == JOINED:
        return "Yunpian's answer was lost; joined to the report for the number"
    if send.state == UNKNOWN:
        return (
            f"{text(send.result_msg)}: the call may have been placed; "
            "a report for the number within 10 minutes will join it"
        )
    if send.result_code == BLOCKED_CODE:
        return guard_explanation(text(send.result_msg))
    return f"{text(send.result_msg)} ({code_meaning(send.result_code).meaning})"
