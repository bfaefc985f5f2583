"""The relay's outbox: what the relay answered its caller about and has not stored yet.

The relay answers first and records after. Each send (and each page pulled through it) is
committed here, to a small SQLite file of its own beside the database, before the caller gets
its answer; a writer thread then stores it in the main database and only then forgets it here.
A main database that is write-locked, busy with report storage or down delays the record,
never the caller, and loses nothing: what is still here at a restart is stored then.

PostgreSQL has no file beside it: the outbox lives under `data/`, named after the database.
Storing an entry twice (a crash between the store and the forget) is harmless: a send is
recognised by its number, time to the microsecond and code digest, and reports are upserts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from ingest.numbers import describe
from ingest.store.models import Send
from ingest.store.writes import writing

SUFFIX = "-relayoutbox"  # beside the database, like the pull spool's -pullspool


@dataclass(frozen=True, slots=True)
class Entry:
    """One record waiting in the outbox: `kind` is "send" or "pull"."""

    id: int
    kind: str
    payload: dict[str, Any]


class RelayOutbox:
    """A file-backed queue of records to store; its methods may be called from any thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # As durable as the main database's commits (ingest/store/engine.py).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS waiting "
            "(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        self._mutex = threading.Lock()

    def keep(self, kind: str, payload: dict[str, Any]) -> Entry:
        """Commit a record to store; it stays until `forget`."""
        with self._mutex:
            cursor = self._db.execute(
                "INSERT INTO waiting (kind, payload) VALUES (?, ?)",
                (kind, json.dumps(payload, ensure_ascii=False)),
            )
        return Entry(cursor.lastrowid, kind, payload)

    def forget(self, entry_id: int) -> None:
        """Drop a record that is in the main database now."""
        with self._mutex:
            self._db.execute("DELETE FROM waiting WHERE id = ?", (entry_id,))

    def waiting(self) -> list[Entry]:
        """Records kept and never forgotten, oldest first."""
        with self._mutex:
            rows = self._db.execute("SELECT id, kind, payload FROM waiting ORDER BY id")
            return [Entry(i, kind, json.loads(payload)) for i, kind, payload in rows]

    def close(self) -> None:
        with self._mutex:
            self._db.close()


def outbox_path(engine: Engine) -> str:
    """Where `engine`'s outbox lives: beside a SQLite file, in memory beside an in-memory
    database, and under data/ (named by the database's URL) for PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name == "sqlite":
        return ":memory:" if database in (None, "", ":memory:") else database + SUFFIX
    name = hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()
    Path("data").mkdir(exist_ok=True)
    return str(Path("data") / f"voicewatch-{name[:16]}.db{SUFFIX}")


# ---------------------------------------------------------------- sends, stored once


def send_payload(send: Send) -> dict[str, Any]:
    """A send not yet stored, as JSON-able values (times as ISO text)."""
    values = {c.key: getattr(send, c.key) for c in Send.__table__.columns if c.key != "id"}
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}


def send_from_payload(payload: dict[str, Any]) -> Send:
    """The send `send_payload` wrote."""
    times = {"sent_at", "joined_at"}
    return Send(
        **{k: datetime.fromisoformat(v) if k in times and v else v for k, v in payload.items()}
    )


def store_send_once(engine: Engine, send: Send) -> int:
    """Store `send` unless it is stored already (same number, time and code digest): its id."""
    info = describe(send.mobile)
    send.carrier = send.carrier or info.carrier
    send.province = send.province or info.province
    values = {
        c.key: getattr(send, c.key)
        for c in Send.__table__.columns
        if getattr(send, c.key) is not None
    }
    sends = Send.__table__
    with writing(engine) as connection:
        stored = connection.execute(
            select(sends.c.id).where(
                sends.c.mobile == send.mobile,
                sends.c.sent_at == send.sent_at,
                sends.c.code_digest == send.code_digest,
            )
        ).scalar()
        if stored is not None:
            return stored
        return connection.execute(sends.insert().values(values).returning(sends.c.id)).scalar_one()
