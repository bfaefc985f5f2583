"""Text from outside, made harmless to read: control codes removed for terminals, and the
encodings a secret or a number may hide behind undone before they are looked for."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

# ESC sequences (CSI, OSC, two-byte), then single control characters: C0 and C1 (DEL and
# 0x80-0x9f, which include the 8-bit CSI), and the bidi marks and overrides that reorder text.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n\r\x0b\x0c\u2028\u2029]+")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
DECODE_ROUNDS = 4  # enough for an upstream that encodes what a proxy already encoded


def printable(text: str | None) -> str:
    """`text` on one line with no control codes: safe to print to a terminal."""
    if not text:
        return ""
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text))


def decoded(text: str) -> str:
    """`text` with percent-encoding, JSON `\\u` escapes and HTML entities undone, repeatedly
    (at most DECODE_ROUNDS times): the form a secret or a number is looked for in."""
    for _ in range(DECODE_ROUNDS):
        undone = html.unescape(_JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), unquote(text)))
        if undone == text:
            break
        text = undone
    return text
