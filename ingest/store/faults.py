"""Why a write failed: the database being away (wait and retry), or what was written."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """Whether a write failed because the database is away, locked or full, so that the same
    write may succeed later; False for a refusal of what was written (DataError, a value the
    driver cannot send, ...), which repeating would not change."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        OperationalError
        | InterfaceError
        | DisconnectionError
        | TimeoutError
        | sqlite3.OperationalError,
    )
