"""Phone numbers: validation, carrier and province (via `phonenumbers`), and masking."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

UNKNOWN = "unknown"
_DOMESTIC_FORMS = re.compile(r"^(1\d{10}|0\d{9,11})$")  # mobile, or fixed line with area code
_INTERNATIONAL_FORM = re.compile(r"^\+\d{6,15}$")
# Numbers in free text: a CN mobile (maybe after 86 / +86), or any +country number, with the
# spaces, dashes and dots people and systems put between digit groups. Not inside a longer
# run of letters or digits (a sid, a hex digest).
_SEP = r"[ \-.\u00a0]?"
_IN_TEXT = re.compile(
    rf"(?<![0-9A-Za-z])(?:(?:\+|00)?86{_SEP})?1[3-9]\d(?:{_SEP}\d){{8}}(?![0-9A-Za-z])"
    rf"|(?<![0-9A-Za-z+])(?:\+|00)[1-9](?:{_SEP}?\(?\d\)?){{6,14}}(?![0-9A-Za-z])"
)
_DIGIT_RUN = re.compile(r"\d(?:[ \-.()\u00a0]?\d){6,}")


@dataclass(frozen=True, slots=True)
class NumberInfo:
    """What can be told about a number without calling it."""

    country: str  # ISO region, "CN" for domestic
    carrier: str  # e.g. "China Mobile"; "fixed line" for landlines; "unknown"
    province: str  # e.g. "Jiangsu"; the country name for foreign numbers; "unknown"
    valid: bool

    @property
    def domestic(self) -> bool:
        return self.country == "CN"


def looks_like_mobile(mobile: str) -> bool:
    """Whether `mobile` has one of the forms Yunpian accepts (domestic or +CC international)."""
    return bool(_DOMESTIC_FORMS.match(mobile) or _INTERNATIONAL_FORM.match(mobile))


@lru_cache(maxsize=65536)
def describe(mobile: str) -> NumberInfo:
    """Country, carrier and province of a number Yunpian would accept."""
    # The carrier and geocoder data weigh ~100 MB; processes that only mask numbers never
    # load them (the dashboard's memory budget), so they are imported on first use.
    from phonenumbers import carrier, geocoder

    try:
        parsed = phonenumbers.parse(mobile, "CN")
    except phonenumbers.NumberParseException:
        return NumberInfo(UNKNOWN, UNKNOWN, UNKNOWN, False)
    country = phonenumbers.region_code_for_number(parsed) or UNKNOWN
    valid = phonenumbers.is_valid_number(parsed)
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        carrier_name = "fixed line"
    else:
        carrier_name = carrier.name_for_number(parsed, "en") or UNKNOWN
    place = geocoder.description_for_number(parsed, "en")
    if country == "CN":
        # "Xuzhou, Jiangsu" -> "Jiangsu"; "Beijing" -> "Beijing"; "China" means no finer data.
        province = place.rsplit(", ", 1)[-1] if place and place != "China" else UNKNOWN
    else:
        province = geocoder.country_name_for_number(parsed, "en") or UNKNOWN
    return NumberInfo(country, carrier_name, province, valid)


def mask(mobile: str | None) -> str:
    """`15205201314` -> `152****1314`: keeps the prefix and the last four digits."""
    if not mobile:
        return ""
    if len(mobile) <= 7:
        return mobile[:1] + "*" * (len(mobile) - 1)
    head = 4 if mobile.startswith("+") else 3
    return mobile[:head] + "*" * (len(mobile) - head - 4) + mobile[-4:]


def mask_in_text(text: str | None) -> str:
    """`text` with every phone number in it masked as `mask` does (`152****1314`): CN mobiles
    and +country numbers by pattern, other valid numbers (landlines, spaced forms) by
    phonenumbers' matcher."""
    if not text or not _DIGIT_RUN.search(text):
        return text or ""
    text = _IN_TEXT.sub(lambda m: mask(_digits(m[0])), text)
    if not _DIGIT_RUN.search(text):
        return text
    spans = [
        (match.start, match.end)
        for match in PhoneNumberMatcher(text, "CN", leniency=Leniency.VALID)
    ]
    for start, end in reversed(spans):
        text = text[:start] + mask(_digits(text[start:end])) + text[end:]
    return text


def _digits(number: str) -> str:
    """`+86 152-0520-1314` -> `+8615205201314`; `0086…` -> `+86…`."""
    digits = re.sub(r"\D", "", number)
    if number.startswith("00"):
        return "+" + digits[2:]
    return "+" + digits if number.startswith("+") else digits


# ---------------------------------------------------------------- one number, one history

# A number written partly: `152****9867`, `152…9867`, `+86152xxxx9867`; and a bare last four.
_MASKED = re.compile(r"^(\+?\d{0,7})[*xX×•.…]+(\d{2,4})$")
_LAST_DIGITS = re.compile(r"^\d{4}$")
_PREFIX_AND_LAST = re.compile(r"^(\+?\d{2,7})\s+(\d{4})$")  # "152 9867"
_WRITING = re.compile(r"[\s\-().\u00a0\u3000]")


@dataclass(frozen=True, slots=True)
class PartialNumber:
    """A number known only by its start and its last digits: it lists the numbers to choose
    from, never one history."""

    prefix: str  # canonical start, e.g. "+86152"; "" when only the end is known
    suffix: str  # the last digits, e.g. "9867"


@lru_cache(maxsize=65536)
def canonical(mobile: str | None) -> str | None:
    """The one form of a number every history is kept and searched by: E.164 (`+8615231999867`),
    read the way people write numbers (`+86 152 3199 9867`, `152-3199-9867`, `0086…`,
    full-width digits), domestic by default. None when it is not a possible number."""
    if not mobile:
        return None
    text = unicodedata.normalize("NFKC", mobile).strip()
    plain = re.fullmatch(r"\(?\+?[\d\s\-().\u00a0]+", text)
    if not text or len(text) > 40 or not plain or text.count("+") > 1:
        return None
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def as_sent(mobile: str) -> str | None:
    """How voicewatch sends a number however it was typed: a domestic number as its 11 (or
    area-code) digits, a foreign one as +country digits, the forms Yunpian takes; None when
    it is not a possible number."""
    number = canonical(mobile)
    if number is None or not number.startswith("+86"):
        return number
    national = number[3:]
    return national if len(national) == 11 and national.startswith("1") else "0" + national


def storage_key(mobile: str) -> str:
    """What a stored send or report is found by: its canonical number, else the text as it
    came (clipped to the column), so an odd number still has one history."""
    return canonical(mobile) or mobile.strip()[:32]


def partial_number(text: str) -> PartialNumber | None:
    """`152****9867`, `+86152…9867` or a bare `9867` as a partial number; None otherwise."""
    folded = unicodedata.normalize("NFKC", text).strip()
    plain = _WRITING.sub("", folded)
    if _LAST_DIGITS.fullmatch(plain):
        return PartialNumber("", plain)
    found = _MASKED.fullmatch(plain) or _PREFIX_AND_LAST.fullmatch(folded)
    if not found:
        return None
    prefix, suffix = found.groups()
    if prefix.startswith("00"):
        prefix = "+" + prefix[2:]
    elif prefix and not prefix.startswith("+"):
        # "152" is the start of a domestic number; "86152" the same with its country code.
        prefix = "+86" + (prefix[2:] if prefix.startswith("86") and len(prefix) > 3 else prefix)
    return PartialNumber(prefix, suffix)
