"""The pull spool: pulled bodies committed to a small file beside a SQLite database.

Yunpian hands each report out once, so the pull loop commits every page before it asks for
the next. SQLite has one writer at a time, and the page writer stores hundreds of pages in
one transaction (the bigger it is, the cheaper each report: bench/README.md, target 2).
Committed to the main database, each page would wait for that transaction, and the loop
would pull one page per transaction. Committed here, in a file of its own, it does not wait;
the writer moves it into the raw inbox together with its reports, atomically, and only then
forgets it here. What a crash leaves here is stored at the next start (`pull.replay_spool`).

PostgreSQL takes concurrent writers, so pulls there keep their bodies in the raw inbox at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from ingest import logs

log = logging.getLogger(__name__)

SUFFIX = "-pullspool"  # beside the database, like SQLite's own -wal and -shm


@dataclass(frozen=True, slots=True)
class Spooled:
    """A pulled body, committed to the spool and not yet to the raw inbox."""

    id: int
    received_at: datetime  # aware, UTC: becomes the raw inbox row's received_at
    body: bytes


class SpoolBusy(RuntimeError):
    """Another process holds the spool (it pulls into the same database)."""


class PullSpool:
    """One process's spool; its methods may be called from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One pull loop per database spools: a second one would replay bodies still in flight.
        self._lock_file = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolBusy(f"{path} is in use by another process") from None
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # As durable as the main database's commits (ingest/store/engine.py).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS spooled "
            "(id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, body BLOB NOT NULL)"
        )
        self._mutex = threading.Lock()

    def keep(self, body: bytes, received_at: datetime) -> Spooled:
        """Commit `body`; it stays until `forget`."""
        with self._mutex:
            cursor = self._db.execute(
                "INSERT INTO spooled (received_at, body) VALUES (?, ?)",
                (received_at.isoformat(), body),
            )
        return Spooled(cursor.lastrowid, received_at, body)

    def forget(self, ids: Iterable[int]) -> None:
        """Drop bodies that are in the raw inbox now."""
        with self._mutex:
            self._db.execute(
                "DELETE FROM spooled WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(ids)),),
            )

    def waiting(self) -> list[Spooled]:
        """Bodies kept and never forgotten, oldest first."""
        with self._mutex:
            rows = self._db.execute("SELECT id, received_at, body FROM spooled ORDER BY id")
            return [Spooled(i, datetime.fromisoformat(at), body) for i, at, body in rows]

    def close(self) -> None:
        with self._mutex:
            self._db.close()
            self._lock_file.close()  # releases the flock


_spools: WeakKeyDictionary[Engine, PullSpool | None] = WeakKeyDictionary()
_spools_lock = threading.Lock()


def spool_for(engine: Engine) -> PullSpool | None:
    """The spool of `engine`'s SQLite file, opened once per engine; None for PostgreSQL, an
    in-memory database, or when another process holds the spool (then pulls keep their
    bodies in the raw inbox directly, as on PostgreSQL: slower, just as safe)."""
    with _spools_lock:
        if engine not in _spools:
            database = engine.url.database
            on_file = engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")
            spool = None
            if on_file:
                try:
                    spool = PullSpool(Path(database + SUFFIX))
                except SpoolBusy:
                    logs.event(log, "pull.spool_busy", logging.WARNING, database=database)
            _spools[engine] = spool
        return _spools[engine]
