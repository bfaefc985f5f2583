"""The commands in the reader's language, `--help` and click's errors included.

Our help texts are marked with N_() where the commands are declared and put in the reader's
language by `speak` before click parses anything. Click translates its own words ("Usage:",
"Options", "Error: …", "Missing argument") with the stdlib's global gettext domain; `speak`
binds our catalog there, and CLICK_WORDS below lists click's messages so that `make messages`
keeps them in the catalog.
"""

from __future__ import annotations

import gettext
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import click

from ingest.i18n import DOMAIN, N_, Language, gettext_folder

# Click's messages a voicewatch user can meet (click/*.py, `_(…)`), verbatim: they are the msgids.
CLICK_WORDS = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("required"),
    N_("(dynamic)"),
    N_("deprecated"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Aborted!"),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"),
    N_("Missing command."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Option {name!r} does not take a value."),
    N_("Argument {name!r} takes {nargs} values."),
    N_("Choose from:\n\t{choices}"),
    N_("{value!r} is not a valid {number_type}."),
    N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid boolean. Recognized values: {states}"),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("Could not open file {filename!r}: {message}"),
    N_("unknown error"),
    # The names click gives its parameter types: metavars (INTEGER) and "is not a valid …".
    N_("text"),
    N_("integer"),
    N_("float"),
    N_("boolean"),
    N_("integer range"),
    N_("float range"),
    N_("file"),
    N_("directory"),
    N_("path"),
)
# Written as ngettext(…) calls so that extraction keeps them as plural entries, as click asks.
_ENGLISH = Language()
CLICK_PLURAL_WORDS = (
    _ENGLISH.ngettext(
        "Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1
    ),
    _ENGLISH.ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1),
    _ENGLISH.ngettext(
        "Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1
    ),
    _ENGLISH.ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1),
    _ENGLISH.ngettext(
        "Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given.", 1
    ),
)
_ENGLISH_TEXTS = "_voicewatch_msgids"  # where each click object keeps its English texts


def cache_folder(environ: Mapping[str, str]) -> Path:
    """Where the CLI keeps the compiled catalog click reads: $XDG_CACHE_HOME/voicewatch, else
    ~/.cache/voicewatch."""
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "voicewatch"
    return Path(environ.get("HOME") or tempfile.gettempdir()) / ".cache" / "voicewatch"


def speak(command: click.Command, language: Language, cache: Path) -> None:
    """Put `command` and every command under it in `language`: help texts, type names, and
    click's own words and errors. Runs before parsing; safe to run again in another language."""
    _bind_click(language, cache)
    for thing, attribute, english in _texts(command):
        setattr(thing, attribute, language.gettext(english) if english else english)
    for sub in _commands(command):
        if language.chinese and sub.help and not getattr(sub, _ENGLISH_TEXTS)["short_help"]:
            sub.short_help = _first_sentence(sub.help)
        sub._help_option = None  # click keeps --help built in the words of its first run
        sub.context_class = _WideContext


def _bind_click(language: Language, cache: Path) -> None:
    """Have the stdlib's global gettext, which click speaks through, answer from our catalog
    in `language`. Click's words stay English when the catalog cannot be written."""
    if not language.chinese:
        if gettext.textdomain() == DOMAIN:  # bound by an earlier run in this process
            gettext.textdomain("messages")  # the stdlib's default: click's English
        return
    try:
        folder = gettext_folder(cache)
    except OSError:
        return
    gettext.bindtextdomain(DOMAIN, str(folder))
    gettext.textdomain(DOMAIN)
    # The global gettext picks its language from LANGUAGE first (then LC_ALL, LANG); the
    # commands' language may come from VOICEWATCH_LANG, so it is said there.
    os.environ["LANGUAGE"] = language.code


def _commands(command: click.Command) -> Iterator[click.Command]:
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


def _texts(command: click.Command) -> Iterator[tuple[object, str, str | None]]:
    """Every translatable text of the tree as (object, attribute, English text), the English
    kept on the object the first time so that a later run can translate it again."""
    for sub in _commands(command):
        for param in sub.params:
            yield from _english(param, "help")
            yield from _english(param.type, "name")
        yield from _english(sub, "help", "short_help")


def _english(thing: object, *attributes: str) -> Iterator[tuple[object, str, str | None]]:
    kept = thing.__dict__.setdefault(
        _ENGLISH_TEXTS, {attribute: getattr(thing, attribute, None) for attribute in attributes}
    )
    for attribute in attributes:
        yield thing, attribute, kept[attribute]


def _first_sentence(help_text: str) -> str:
    """The short help of a Chinese help text: its first sentence (click's own shortening
    counts words by spaces, which Chinese has few of)."""
    first = help_text.partition("\n\n")[0]
    return first.split("。")[0] + "。" if "。" in first else first


def _columns(text: str) -> int:
    """Terminal columns `text` takes: two for a Chinese character, one for the rest."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# Where a line may break: at spaces and between wide characters, but never after opening
# punctuation nor before closing punctuation.
_OPENING, _CLOSING = "（「『“《", "，。、；：！？）」』”》"
_TOKENS = re.compile(rf"\s+|[{_OPENING}]*(?:[^\s\u1100-\uffff]+|\S)[{_CLOSING}]*")


def _wrap(text: str, width: int) -> list[str]:
    """`text` (one paragraph) in lines of at most `width` columns where it can be broken."""
    lines, line = [], ""
    for token in _TOKENS.findall(" ".join(text.split())):
        if token.isspace():
            line += " " if line else ""
        elif line.strip() and _columns(line + token) > width:
            lines.append(line.rstrip())
            line = token
        else:
            line += token
    return [*lines, line.rstrip()] if line.strip() else lines


class _WideFormatter(click.HelpFormatter):
    """Click's help layout measured in terminal columns, so that Chinese text lines up and
    wraps; text without wide characters is laid out by click itself."""

    def write_text(self, text: str) -> None:
        if _columns(text) == len(text):
            return super().write_text(text)
        indent = " " * self.current_indent
        for number, paragraph in enumerate(text.split("\n\n")):
            self.write("\n" if number else "")
            for line in _wrap(paragraph, self.width - self.current_indent):
                self.write(f"{indent}{line}\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max=30, col_spacing=2) -> None:
        rows = list(rows)
        if all(_columns(f + s) == len(f + s) for f, s in rows):
            return super().write_dl(rows, col_max, col_spacing)
        first_col = min(max(_columns(first) for first, _ in rows), col_max) + col_spacing
        margin = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if _columns(first) <= first_col - col_spacing:
                self.write(" " * (first_col - _columns(first)))
            elif second:
                self.write(f"\n{margin}")
            lines = _wrap(second, max(self.width - first_col - 2, 10)) or [""]
            self.write("\n".join([lines[0].rstrip(), *(margin + line for line in lines[1:])]))
            self.write("\n")


class _WideContext(click.Context):
    formatter_class = _WideFormatter
