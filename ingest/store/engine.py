"""Engines and migrations: one place that knows how to open SQLite or PostgreSQL well."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_STORE_WAIT = 5.0  # seconds; VOICEWATCH_STORE_WAIT

_store_waits: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()


def make_engine(
    db_url: str, *, migrate: bool = True, store_wait: float = DEFAULT_STORE_WAIT
) -> Engine:
    """An engine for `db_url`; SQLite gets WAL. A write waits at most about `store_wait`
    seconds for a busy (locked) database or a free connection before it fails, so that a
    caller can be answered (a push: 503, retried by Yunpian). Migrates unless told not to."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": store_wait})
        event.listen(engine, "connect", partial(_tune_sqlite, store_wait))
    else:
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=store_wait
        )
        event.listen(engine, "connect", _tune_postgres)
    _store_waits[engine] = store_wait
    if migrate:
        upgrade(engine)
    return engine


def store_wait(engine: Engine) -> float:
    """Seconds a write on `engine` may wait for the database (see `make_engine`)."""
    return _store_waits.get(engine, DEFAULT_STORE_WAIT)


def _tune_sqlite(wait: float, dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while ingest writes; NORMAL is durable at commit in WAL mode
    # except against power loss, which a monitoring tool can accept.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    cursor.close()


def _tune_postgres(dbapi_connection, _record) -> None:
    # JIT compiles a plan whose estimated cost passes jit_above_cost, which the dashboard's
    # aggregates over millions of rows do: compiling took 0.5-1.8 s of a 2 s query at 10 M
    # reports (bench/README.md, issue 18) and no query of ours runs long enough to earn it back.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (an empty database gets every table)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
