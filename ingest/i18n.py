"""Languages: gettext catalogs (managed with Babel: `make messages`) and Babel's formatting of
numbers, percentages, dates and durations, for the dashboard, the CLI and alert messages.

Simplified Chinese and English. A `Language` is passed to whatever renders text; nothing
here reads the environment except `cli_language`, the CLI's one entry point.
"""

from __future__ import annotations

import gettext
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

LOCALES = Path(__file__).parent / "locale"
DOMAIN = "voicewatch"
ENGLISH, CHINESE = "en", "zh_CN"
SUPPORTED = (ENGLISH, CHINESE)
NAMES = {ENGLISH: "English", CHINESE: "简体中文"}
_DURATION_UNITS = (
    ("duration-day", 86400),
    ("duration-hour", 3600),
    ("duration-minute", 60),
    ("duration-second", 1),
)


def N_(message: str) -> str:
    """Marks a module-level string for extraction; it is translated where it is shown."""
    return message


# The units Yunpian bills in (VOICEWATCH_FEE_UNIT), as a reader names them.
FEE_UNIT_LABELS = {"credits": N_("credits"), "yuan": N_("yuan")}


def negotiate(*preferences: str | None) -> str:
    """The supported language closest to the first usable preference (a browser locale such
    as "zh-CN" or "zh-Hans-CN", a POSIX LANG such as "zh_CN.UTF-8", or "en"); English when none."""
    for preference in preferences:
        if not preference:
            continue
        tag = preference.split(".")[0].split("@")[0].replace("-", "_")
        try:
            locale = Locale.parse(tag)
        except (ValueError, UnknownLocaleError):
            continue
        if locale.language == "zh":
            return CHINESE
        if locale.language == "en":
            return ENGLISH
    return ENGLISH


@cache
def _compiled(code: str) -> bytes:
    """The compiled (.mo) catalog for `code`; compiled in memory from the .po when no .mo is
    there, so a checkout works without a compile step."""
    folder = LOCALES / code / "LC_MESSAGES"
    compiled = folder / f"{DOMAIN}.mo"
    if compiled.exists():
        return compiled.read_bytes()
    with (folder / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


@cache
def _catalog(code: str) -> gettext.NullTranslations:
    if code == ENGLISH:
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(_compiled(code)))


def gettext_folder(cache: Path) -> Path:
    """A folder under `cache` laid out the way the stdlib's global gettext looks for catalogs
    (zh_CN/LC_MESSAGES/voicewatch.mo), for libraries that translate through it (click).
    Named by the catalogs' digest, so it is written once per version of the translations."""
    compiled = {code: _compiled(code) for code in SUPPORTED if code != ENGLISH}
    digest = hashlib.sha256(b"".join(compiled.values())).hexdigest()[:16]
    folder = cache / "locale" / digest
    for code, catalog in compiled.items():
        target = folder / code / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{DOMAIN}.{os.getpid()}.partial")
            partial.write_bytes(catalog)
            partial.replace(target)  # atomic: a concurrent reader sees no half-written file
    return folder


@dataclass(frozen=True)
class Language:
    """Messages and formats in one language."""

    code: str = ENGLISH

    @property
    def chinese(self) -> bool:
        return self.code == CHINESE

    def gettext(self, message: str) -> str:
        return _catalog(self.code).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _catalog(self.code).ngettext(singular, plural, n)

    def number(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.code)

    def percent(self, share: float, digits: int = 1) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(share, pattern, locale=self.code)

    def datetime(self, moment: datetime, *, with_date: bool = True) -> str:
        """ "12月2日 14:05:09" / "Dec 2, 14:05:09"; the time only when `with_date` is False."""
        if not with_date:
            return format_datetime(moment, "HH:mm:ss", tzinfo=moment.tzinfo, locale=self.code)
        pattern = "MMMd日 HH:mm:ss" if self.chinese else "MMM d, HH:mm:ss"
        return format_datetime(moment, pattern, tzinfo=moment.tzinfo, locale=self.code)

    def date(self, day: date) -> str:
        return format_date(day, "medium", locale=self.code)

    def duration(self, span: timedelta, parts: int = 2) -> str:
        """ "3分钟20秒" / "3 min 20 sec": the `parts` largest units, whole seconds."""
        left = max(0, round(span.total_seconds()))
        shown: list[str] = []
        for unit, seconds in _DURATION_UNITS:
            amount, left = divmod(left, seconds)
            if shown and not amount:
                break  # "1 hr", not "1 hr 0 min 5 sec"
            if amount or seconds == 1:
                shown.append(format_unit(amount, unit, length="short", locale=self.code))
            if len(shown) == parts:
                break
        return format_list(shown, style="unit-narrow", locale=self.code)


def cli_language(environ: dict[str, str]) -> Language:
    """The CLI's language: VOICEWATCH_LANG, else the POSIX locale variables."""
    return Language(
        negotiate(
            environ.get("VOICEWATCH_LANG"),
            environ.get("LC_ALL"),
            environ.get("LC_MESSAGES"),
            environ.get("LANG"),
        )
    )
