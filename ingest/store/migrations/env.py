"""Alembic environment: runs against the engine voicewatch hands in (see ingest/store/engine.py)."""

from __future__ import annotations

from alembic import context

from ingest.store import alert_models  # noqa: F401  (their tables belong to the metadata)
from ingest.store.models import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
