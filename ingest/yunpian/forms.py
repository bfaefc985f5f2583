"""Form bodies (application/x-www-form-urlencoded), decoded at C speed.

A push carries its hundred reports as one percent-encoded JSON field, so nearly every
character of it is an escape. urllib decodes escapes one by one in Python (~9 µs a report);
written as `\\xXX`, the same escapes are decoded by CPython's C escape decoder in a tenth of
that. The result is what `urllib.parse.parse_qs(..., strict_parsing=True,
keep_blank_values=True)` gives (tests/ingest/test_forms.py checks it on arbitrary bodies).
"""

from __future__ import annotations

import codecs
from urllib.parse import unquote_to_bytes


class FormError(ValueError):
    """The body is not a strictly well-formed form."""


def parse_form(body: bytes, *, max_fields: int | None = None) -> dict[str, list[str]]:
    """Each field's values, in order. Names and values are UTF-8; bad bytes become U+FFFD."""
    if not body:
        return {}
    pairs = body.split(b"&")
    if max_fields is not None and len(pairs) > max_fields:
        raise FormError(f"{len(pairs)} fields; at most {max_fields} accepted")
    fields: dict[str, list[str]] = {}
    for pair in pairs:
        name, equals, value = pair.partition(b"=")
        if not equals:
            raise FormError(f"bad field {pair[:40].decode('utf-8', 'replace')!r}: no '='")
        fields.setdefault(_text(name), []).append(_text(value))
    return fields


def percent_decode(text: bytes) -> bytes:
    """`+` as space and `%XX` as its byte; a `%` without two hex digits stays as it is."""
    text = text.replace(b"+", b" ")
    if b"%" not in text:
        return text
    try:
        return codecs.escape_decode(text.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:  # a stray '%': the escape decoder refuses it, urllib keeps it
        return unquote_to_bytes(text)


def _text(raw: bytes) -> str:
    return percent_decode(raw).decode("utf-8", "replace")
