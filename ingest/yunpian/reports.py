"""Delivery reports: the one parser for Yunpian's report format, pulled or pushed.

Wire reference: ../shared/yunpian-voice-api.md. Anything that is not the format is refused
with a ReportFormatError naming the report and the field, never half-stored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from ingest.yunpian.forms import FormError, parse_form

CHINA = ZoneInfo("Asia/Shanghai")
REPORT_STATUSES = ("SUCCESS", "FAIL")
REPORT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_REPORT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)
CHINA_SINCE_1991 = timezone(timedelta(hours=8))
# Column widths of the store (ingest/store/models.py): longer values are refused at the edge, so a
# hostile report is a 400, never a write that fails halfway on PostgreSQL.
MAX_SID, MAX_MOBILE, MAX_UID = 64, 32, 64
MAX_DURATION = 7 * 24 * 3600  # a call is not longer than a week; also fits a 32-bit column


class ReportFormatError(ValueError):
    """A report body (pulled or pushed) is not what Yunpian's format says it is."""


class Report(msgspec.Struct, frozen=True, gc=False):
    """One delivery report, as pulled or pushed.

    Not tracked by the garbage collector (it holds no containers): a pull stores hundreds
    of thousands at a time, and each tracked one brought the next collection closer."""

    sid: str
    mobile: str
    status: str  # SUCCESS | FAIL
    user_receive_time: datetime | None  # aware, UTC
    duration: int
    error_msg: str | None = None
    uid: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == "SUCCESS"


def parse_reports(items: Any) -> list[Report]:
    """Validated reports from a decoded JSON array (pull answer or push `voice_status`)."""
    if not isinstance(items, list):
        raise ReportFormatError(f"expected a JSON array of reports, got {type(items).__name__}")
    return [_parse_report(i, item) for i, item in enumerate(items)]


class _UsualReport(msgspec.Struct, gc=False):
    """A report in the shape Yunpian sends, checked by msgspec in C (parse_usual_reports)."""

    sid: Annotated[str, msgspec.Meta(max_length=MAX_SID)]
    mobile: Annotated[str, msgspec.Meta(max_length=MAX_MOBILE)]
    report_status: Literal["SUCCESS", "FAIL"]
    user_receive_time: str | None = None
    duration: Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION)] | None = 0
    error_msg: str | None = None
    uid: Annotated[str, msgspec.Meta(max_length=MAX_UID)] | None = None


_decode_usual = msgspec.json.Decoder(list[_UsualReport]).decode


def parse_usual_reports(text: bytes | str) -> list[Report] | None:
    """The reports of a JSON array in the usual shape, as parse_reports would make them, at a
    third of its cost (a pull page or push is hundreds of them); None for anything else: a
    number as a sid, a blank mobile, a bad time, not an array, not JSON... The caller then
    takes the long way, parse_reports, which makes the same reports or names the fault."""
    try:
        usual = _decode_usual(text)
    except msgspec.DecodeError:  # also its ValidationError
        return None
    reports = []
    for item in usual:
        sid, mobile, uid, error_msg = item.sid, item.mobile.strip(), item.uid, item.error_msg
        if not sid.strip() or not mobile or "\x00" in f"{sid}{mobile}{uid}{error_msg}":
            return None
        received = item.user_receive_time
        if received:
            try:
                received = _china_time(received)
            except ValueError:
                return None
        reports.append(
            Report(
                sid,
                mobile,
                item.report_status,
                received or None,
                item.duration or 0,
                error_msg,
                uid,
            )
        )
    return reports


def _parse_report(index: int, item: Any) -> Report:
    def bad(reason: str) -> ReportFormatError:
        return ReportFormatError(f"report #{index}: {reason}")

    if not isinstance(item, dict):
        raise bad(f"expected an object, got {type(item).__name__}")
    sid, mobile, status = item.get("sid"), item.get("mobile"), item.get("report_status")
    if not isinstance(sid, str | int) or isinstance(sid, bool) or not str(sid).strip():
        raise bad("sid missing or not a string")
    if not isinstance(mobile, str) or not mobile.strip():
        raise bad("mobile missing or not a string")
    if status not in REPORT_STATUSES:
        raise bad(f"report_status {status!r} is not SUCCESS or FAIL")
    uid = _optional_text(item.get("uid"), "uid", bad)
    for name, value, limit in (
        ("sid", str(sid), MAX_SID),
        ("mobile", mobile.strip(), MAX_MOBILE),
        ("uid", uid or "", MAX_UID),
    ):
        if len(value) > limit:
            raise bad(f"{name} is {len(value)} characters; at most {limit} accepted")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise bad(f"{name} contains a NUL character")
    return Report(
        sid=str(sid),
        mobile=mobile.strip(),
        status=status,
        user_receive_time=_parse_china_time(item.get("user_receive_time"), bad),
        duration=_parse_duration(item.get("duration", 0), bad),
        error_msg=_optional_text(item.get("error_msg"), "error_msg", bad),
        uid=uid,
    )


def _parse_china_time(value: Any, bad) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise bad(f"user_receive_time {value!r} is not a string")
    try:
        return _china_time(value)
    except ValueError:
        raise bad(f"user_receive_time {value!r} is not YYYY-MM-DD HH:MM:SS") from None


@lru_cache(maxsize=4096)  # the reports of a page share a few seconds
def _china_time(value: str) -> datetime:
    """A report time in UTC; ValueError if `value` is not YYYY-MM-DD HH:MM:SS."""
    # fromisoformat is C-fast but lenient ("T", fractions, offsets): the shape is checked first.
    if len(value) != 19 or value[10] != " " or not _REPORT_TIME.fullmatch(value):
        raise ValueError(value)
    try:
        local = datetime.fromisoformat(value)
        # China has kept UTC+8 without daylight saving since 1991; older times go the long way.
        zone = CHINA_SINCE_1991 if local.year > 1991 else CHINA
        # Year 1 in China is year 0 in UTC, which Python cannot represent.
        return local.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise ValueError(value) from None


def _parse_duration(value: Any, bad) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise bad(f"duration {value!r} is not a whole number")
    try:
        seconds = int(value)
    except ValueError:
        raise bad(f"duration {value!r} is not a whole number") from None
    if seconds < 0:
        raise bad(f"duration {seconds} is negative")
    if seconds > MAX_DURATION:
        raise bad(f"duration {seconds} is over {MAX_DURATION} seconds (a week)")
    return seconds


def _optional_text(value: Any, name: str, bad) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(f"{name} {value!r} is not a string")
    text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise bad(f"{name} contains a NUL character")
    return text


def parse_push_form(body: bytes) -> list[Report]:
    """Reports from a push body: form-encoded, one field `voice_status` = URL-encoded JSON."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportFormatError(f"body is not UTF-8 ({exc})") from None
    try:
        fields = parse_form(body, max_fields=16)
    except FormError as exc:
        raise ReportFormatError(f"body is not form-encoded ({exc})") from None
    values = fields.get("voice_status")
    if not values:
        raise ReportFormatError(f"no voice_status field (fields: {sorted(fields)[:5]})")
    if len(values) > 1:
        raise ReportFormatError("voice_status given more than once")
    usual = parse_usual_reports(values[0])
    if usual is not None:
        return usual
    try:
        items = json.loads(values[0])
    except (ValueError, RecursionError) as exc:  # ValueError: also over-long integers
        raise ReportFormatError(f"voice_status is not JSON ({type(exc).__name__}: {exc})") from None
    return parse_reports(items)


def format_china_time(moment: datetime) -> str:
    """An aware datetime as Yunpian writes report times (China local time)."""
    return moment.astimezone(CHINA).strftime(REPORT_TIME_FORMAT)
