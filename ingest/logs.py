"""Structured logging: one `key=value` line per event, no secrets, numbers masked."""

from __future__ import annotations

import logging
import sys

from ingest.numbers import mask


def configure(level: int | str = logging.INFO) -> None:
    """Log to stderr in one line per event; quiet the chatty HTTP libraries."""
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    # httpx logs every request URL at INFO; keep it at WARNING so logs stay one line per event.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `event=name k=v …`; a `mobile` field is masked."""
    if "mobile" in fields:
        fields["mobile"] = mask(str(fields["mobile"]))
    parts = [f"event={name}"] + [f"{key}={_quote(value)}" for key, value in fields.items()]
    logger.log(level, " ".join(parts))


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text
