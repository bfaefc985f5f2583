"""The allow and block lists: exact numbers and prefixes (a trailing `*`), each change audited.

Edited from the dashboard's Guard page, `voicewatch guard allow|block|unlist`, or a file
(`voicewatch guard lists import FILE`: one `allow VALUE [note]` or `block VALUE [note]` a line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select

from ingest.guard.rules import Lists
from ingest.store.models import GuardListChange, GuardListEntry

KINDS = ("allow", "block")
ENTRIES = GuardListEntry.__table__
CHANGES = GuardListChange.__table__
_VALUE = re.compile(r"^\+?\d{2,20}\*?$")


class ListError(ValueError):
    """A list entry that is not a number or prefix, or a list that does not exist."""


@dataclass(frozen=True, slots=True)
class ListEntry:
    kind: str
    value: str
    note: str
    added_by: str
    added_at: datetime


def check_entry(kind: str, value: str) -> str:
    """`value` without spaces, checked: digits (a leading +), ending in * for a prefix."""
    if kind not in KINDS:
        raise ListError(f"list {kind!r}: expected allow or block")
    value = re.sub(r"[\s\-]", "", value)
    if not _VALUE.match(value):
        raise ListError(
            f"{value[:40]!r}: expected a number like 13800138000 or a prefix like +23276*"
        )
    return value


def load_lists(engine: Engine) -> Lists:
    """Both lists as the rules use them."""
    with engine.connect() as connection:
        rows = connection.execute(select(ENTRIES.c.kind, ENTRIES.c.value)).all()
    return Lists(
        allow=frozenset(v for k, v in rows if k == "allow"),
        block=frozenset(v for k, v in rows if k == "block"),
    )


def list_entries(engine: Engine) -> list[ListEntry]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                ENTRIES.c.kind,
                ENTRIES.c.value,
                ENTRIES.c.note,
                ENTRIES.c.added_by,
                ENTRIES.c.added_at,
            ).order_by(ENTRIES.c.kind, ENTRIES.c.value)
        ).all()
    return [ListEntry(*row) for row in rows]


def add_entry(engine: Engine, kind: str, value: str, actor: str, via: str, note: str = "") -> bool:
    """Put `value` on a list (audited); False if it was already there."""
    value = check_entry(kind, value)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        exists = connection.execute(
            select(ENTRIES.c.id).where(ENTRIES.c.kind == kind, ENTRIES.c.value == value)
        ).first()
        if exists:
            return False
        connection.execute(
            insert(ENTRIES),
            [
                {
                    "kind": kind,
                    "value": value,
                    "note": note[:256],
                    "added_by": actor[:64],
                    "added_at": now,
                }
            ],
        )
        _audit(connection, now, "add", kind, value, actor, via)
    return True


def remove_entry(engine: Engine, kind: str, value: str, actor: str, via: str) -> bool:
    """Take `value` off a list (audited); False if it was not on it."""
    value = check_entry(kind, value)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        gone = connection.execute(
            delete(ENTRIES).where(ENTRIES.c.kind == kind, ENTRIES.c.value == value)
        ).rowcount
        if gone:
            _audit(connection, now, "remove", kind, value, actor, via)
    return bool(gone)


def import_file(engine: Engine, path: Path, actor: str) -> tuple[int, list[str]]:
    """Add every `allow|block VALUE [note]` line of `path`: how many were added, and the lines
    refused (with why); blank lines and # comments are skipped."""
    added, refused = 0, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split(maxsplit=2)
        if not words:
            continue
        try:
            if len(words) < 2:
                raise ListError("expected: allow|block VALUE [note]")
            added += add_entry(
                engine, words[0], words[1], actor, "file", words[2] if len(words) > 2 else ""
            )
        except ListError as error:
            refused.append(f"line {number}: {error}")
    return added, refused


def list_changes(engine: Engine, limit: int = 200) -> list[tuple]:
    """The latest changes to the lists, newest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(
                    CHANGES.c.at,
                    CHANGES.c.action,
                    CHANGES.c.kind,
                    CHANGES.c.value,
                    CHANGES.c.actor,
                    CHANGES.c.via,
                )
                .order_by(CHANGES.c.id.desc())
                .limit(limit)
            ).all()
        )


def _audit(
    connection, at: datetime, action: str, kind: str, value: str, actor: str, via: str
) -> None:
    connection.execute(
        insert(CHANGES),
        [
            {
                "at": at,
                "action": action,
                "kind": kind,
                "value": value,
                "actor": actor[:64],
                "via": via,
            }
        ],
    )
