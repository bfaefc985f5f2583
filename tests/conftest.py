"""Shared fixtures: real databases (SQLite file, PostgreSQL server), real servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from ingest.settings import Settings
from ingest.store.engine import make_engine

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.simulator",
    "tests.fixtures.ingest",
]


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'voicewatch.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """Each test using it runs on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'voicewatch.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    return Settings.from_env(
        {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "test-digest-key"}, env_file=None
    )
