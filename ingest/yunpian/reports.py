"""Delivery reports: the one parser for Yunpian's report format, pulled or pushed.

Wire reference: ../shared/yunpian-voice-api.md. Each report is checked on its own against
everything the store can hold (column widths, no NUL, no lone surrogate, numbers and times in
range): one bad report is refused with its index and the reason, and the others go on. A body
that is not a JSON array of reports at all is refused whole with a ReportFormatError.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec

from ingest.yunpian.forms import FormError, parse_form, percent_decode

CHINA = ZoneInfo("Asia/Shanghai")
REPORT_STATUSES = ("SUCCESS", "FAIL")  # the documented ones; others are stored as they came
REPORT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_REPORT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)
CHINA_SINCE_1991 = timezone(timedelta(hours=8))
# Column widths of the store (ingest/store/models.py): a longer value is refused at the edge, so
# a hostile report is quarantined, never a write that fails halfway on PostgreSQL.
MAX_SID, MAX_MOBILE, MAX_UID, MAX_STATUS = 64, 32, 64, 16
MAX_ERROR_MSG = 4096  # a Text column, but Yunpian's reasons are a few words
MAX_DURATION = 7 * 24 * 3600  # a call is not longer than a week; also fits a 32-bit column
# Report times the dashboard can chart: pandas holds nanosecond times from 1677 to 2262 only.
FIRST_YEAR, LAST_YEAR = 1970, 2199
MAX_PUSH_REPORTS = 1000  # Yunpian sends at most 500 per push; twice that is not Yunpian
MAX_REASONS = 20  # refusals spelled out in a quarantined body's parse_error
_DIGITS_KEPT = 20  # longer JSON integers are not made into ints (CPython refuses > 4300 digits)


class ReportFormatError(ValueError):
    """A report body (pulled or pushed) is not what Yunpian's format says it is."""


class Report(msgspec.Struct, frozen=True, gc=False):
    """One delivery report, as pulled or pushed.

    Not tracked by the garbage collector (it holds no containers): a pull stores hundreds
    of thousands at a time, and each tracked one brought the next collection closer."""

    sid: str
    mobile: str
    status: str  # SUCCESS | FAIL, or an undocumented value stored as it came
    user_receive_time: datetime | None  # aware, UTC
    duration: int
    error_msg: str | None = None
    uid: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == "SUCCESS"


@dataclass(frozen=True, slots=True)
class ParsedReports:
    """The reports of one body that the store can hold, and the others' (index, reason)."""

    reports: list[Report]
    refused: list[tuple[int, str]] = field(default_factory=list)

    def reasons(self) -> str | None:
        """Why reports were refused, for the raw inbox's parse_error; None if none was."""
        if not self.refused:
            return None
        total = len(self.refused) + len(self.reports)
        shown = "; ".join(f"report #{i}: {why}" for i, why in self.refused[:MAX_REASONS])
        more = len(self.refused) - MAX_REASONS
        tail = f"; and {more} more" if more > 0 else ""
        return f"{len(self.refused)} of {total} reports refused: {shown}{tail}"


def parse_reports(items: Any) -> list[Report]:
    """Validated reports from a decoded JSON array; ReportFormatError at the first bad one."""
    parsed = split_reports(items)
    if parsed.refused:
        index, reason = parsed.refused[0]
        raise ReportFormatError(f"report #{index}: {reason}")
    return parsed.reports


def split_reports(items: Any) -> ParsedReports:
    """The reports of a decoded JSON array the store can hold, and why each other one is not.

    ReportFormatError only when `items` is not an array at all."""
    if not isinstance(items, list):
        raise ReportFormatError(f"expected a JSON array of reports, got {type(items).__name__}")
    reports, refused = [], []
    for index, item in enumerate(items):
        try:
            reports.append(_parse_report(item))
        except _Refused as refusal:
            refused.append((index, str(refusal)))
    return ParsedReports(reports, refused)


def loads_reports(text: bytes | str) -> Any:
    """JSON as json.loads makes it, except that an integer too long for any column stays a
    _LongInteger (refused per report) instead of failing the whole body."""
    try:
        return json.loads(text, parse_int=_integer)
    except (ValueError, RecursionError) as exc:  # ValueError: also bad UTF-8
        raise ReportFormatError(f"not JSON ({type(exc).__name__}: {exc})") from None


class _LongInteger:
    """A JSON integer longer than any column holds: neither a number nor a string here."""

    def __init__(self, digits: str) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<integer of {len(self.digits)} digits>"


def _integer(digits: str) -> int | _LongInteger:
    return int(digits) if len(digits) <= _DIGITS_KEPT else _LongInteger(digits)


class _UsualReport(msgspec.Struct, gc=False):
    """A report in the shape Yunpian sends, checked by msgspec in C (parse_usual_reports)."""

    sid: Annotated[str, msgspec.Meta(max_length=MAX_SID)]
    mobile: Annotated[str, msgspec.Meta(max_length=MAX_MOBILE)]
    report_status: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_STATUS)]
    user_receive_time: str | None = None
    duration: Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION)] | None = 0
    error_msg: Annotated[str, msgspec.Meta(max_length=MAX_ERROR_MSG)] | None = None
    uid: Annotated[str, msgspec.Meta(max_length=MAX_UID)] | None = None


_decode_usual = msgspec.json.Decoder(list[_UsualReport]).decode
_decode_items = msgspec.json.Decoder(list[msgspec.Raw]).decode


def parse_usual_reports(text: bytes | str) -> list[Report] | None:
    """The reports of a JSON array in the usual shape, as parse_reports would make them, at a
    third of its cost (a pull page or push is hundreds of them); None for anything else: a
    number as a sid, a blank mobile, a bad time, a lone surrogate (msgspec refuses it), not
    an array, not JSON... The caller then takes the long way, split_reports, which makes the
    same reports and names the fault of each other one (tests/ingest/test_reports.py)."""
    try:
        usual = _decode_usual(text)
    except (msgspec.DecodeError, UnicodeEncodeError):  # also its ValidationError
        return None
    reports = []
    for item in usual:
        sid, mobile, uid, error_msg = item.sid, item.mobile.strip(), item.uid, item.error_msg
        status = item.report_status
        if not sid.strip() or not mobile or not status.strip():
            return None
        if "\x00" in f"{sid}{mobile}{uid}{error_msg}{status}":
            return None
        received = item.user_receive_time
        if received:
            try:
                received = _china_time(received)
            except ValueError:
                return None
        reports.append(
            Report(sid, mobile, status, received or None, item.duration or 0, error_msg, uid)
        )
    return reports


def count_items(text: bytes | str) -> int | None:
    """How many items a JSON array has, without making them (a C scan); None if `text` is
    not a JSON array. Lets a receiver refuse 75,000 reports before parsing any."""
    try:
        return len(_decode_items(text))
    except (msgspec.DecodeError, UnicodeEncodeError):
        return None


class _Refused(Exception):
    """One report the store cannot hold; its message is the reason."""


def _parse_report(item: Any) -> Report:
    if not isinstance(item, dict):
        raise _Refused(f"expected an object, got {type(item).__name__}")
    sid, mobile = item.get("sid"), item.get("mobile")
    if isinstance(sid, bool) or not isinstance(sid, str | int) or not str(sid).strip():
        raise _Refused("sid missing or not a string")
    if not isinstance(mobile, str) or not mobile.strip():
        raise _Refused("mobile missing or not a string")
    status = item.get("report_status")
    if not isinstance(status, str) or not status.strip():
        raise _Refused(f"report_status {_shown(status)} is not a string such as SUCCESS or FAIL")
    return Report(
        sid=_storable("sid", str(sid), MAX_SID),
        mobile=_storable("mobile", mobile.strip(), MAX_MOBILE),
        status=_storable("report_status", status, MAX_STATUS),
        user_receive_time=_parse_china_time(item.get("user_receive_time")),
        duration=_parse_duration(item.get("duration", 0)),
        error_msg=_optional_text(item.get("error_msg"), "error_msg", MAX_ERROR_MSG),
        uid=_optional_text(item.get("uid"), "uid", MAX_UID),
    )


def _storable(name: str, text: str, limit: int) -> str:
    """`text` if a column of `limit` characters holds it, on SQLite and PostgreSQL alike."""
    if len(text) > limit:
        raise _Refused(f"{name} is {len(text)} characters; at most {limit} accepted")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise _Refused(f"{name} contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): not UTF-8 at all
            raise _Refused(f"{name} {_shown(text)} holds a lone surrogate") from None
    return text


def _shown(value: Any) -> str:
    """A value for a refusal's reason: its repr, short (repr escapes NUL and surrogates)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _parse_china_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise _Refused(f"user_receive_time {_shown(value)} is not a string")
    try:
        return _china_time(value)
    except ValueError:
        raise _Refused(
            f"user_receive_time {_shown(value)} is not YYYY-MM-DD HH:MM:SS "
            f"between {FIRST_YEAR} and {LAST_YEAR}"
        ) from None


@lru_cache(maxsize=4096)  # the reports of a page share a few seconds
def _china_time(value: str) -> datetime:
    """A report time in UTC; ValueError if `value` is not YYYY-MM-DD HH:MM:SS in range."""
    # fromisoformat is C-fast but lenient ("T", fractions, offsets): the shape is checked first.
    if len(value) != 19 or value[10] != " " or not _REPORT_TIME.fullmatch(value):
        raise ValueError(value)
    local = datetime.fromisoformat(value)
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        raise ValueError(value)
    # China has kept UTC+8 without daylight saving since 1991; older times go the long way.
    zone = CHINA_SINCE_1991 if local.year > 1991 else CHINA
    return local.replace(tzinfo=zone).astimezone(UTC)


def _parse_duration(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Refused(f"duration {_shown(value)} is not a whole number up to {MAX_DURATION}")
    try:
        seconds = int(value)
    except ValueError:
        raise _Refused(f"duration {_shown(value)} is not a whole number") from None
    if seconds < 0:
        raise _Refused(f"duration {seconds} is negative")
    if seconds > MAX_DURATION:
        raise _Refused(f"duration {seconds} is over {MAX_DURATION} seconds (a week)")
    return seconds


def _optional_text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Refused(f"{name} {_shown(value)} is not a string")
    return _storable(name, str(value), limit)


def parse_push_form(body: bytes, max_reports: int | None = None) -> ParsedReports:
    """Reports from a push body: form-encoded, one field `voice_status` = URL-encoded JSON.

    ReportFormatError for a body that is not that, or holds more than `max_reports` items
    (counted before any is parsed); otherwise each report stored or refused on its own."""
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
    text = decode_voice_status(values[0])
    # An item takes at least two characters ("1,"): a shorter text cannot hold too many.
    if max_reports is not None and len(text) > 2 * max_reports + 2:
        _refuse_over(count_items(text), max_reports)
    usual = parse_usual_reports(text)
    if usual is not None:
        return ParsedReports(usual)
    try:
        items = loads_reports(text)
    except ReportFormatError as error:
        raise ReportFormatError(f"voice_status is {error}") from None
    if max_reports is not None and isinstance(items, list):  # JSON msgspec does not take
        _refuse_over(len(items), max_reports)
    return split_reports(items)


def _refuse_over(count: int | None, max_reports: int) -> None:
    if count is not None and count > max_reports:
        raise ReportFormatError(f"{count} reports in one push; at most {max_reports} accepted")


def decode_voice_status(value: str) -> str:
    """`voice_status` after the form decode, decoded once more if it is still URL-encoded.

    Yunpian's push document: "部分语言由于解码方式差异需要解码两次" (some receivers must
    decode twice; ../shared/yunpian-voice-api.md, Push). A JSON array starts with `[`: a
    value that does not, and does once decoded again, was encoded twice. A value that is
    already an array is never decoded again, whatever '%' its strings hold."""
    if value.lstrip(" \t\r\n").startswith("[") or "%" not in value:
        return value
    again = percent_decode(value.encode("utf-8")).decode("utf-8", "replace")
    return again if again.lstrip(" \t\r\n").startswith("[") else value


def format_china_time(moment: datetime) -> str:
    """An aware datetime as Yunpian writes report times (China local time)."""
    return moment.astimezone(CHINA).strftime(REPORT_TIME_FORMAT)
