"""Structured logging: one `key=value` line per event, no secrets, numbers masked."""

from __future__ import annotations

import logging
import re
import sys

from ingest.numbers import mask

# The forms Yunpian accepts (ingest/numbers.py), not touching ASCII letters or digits (Chinese
# text around a number is fine): a domestic mobile, a fixed line with area code, +country code.
# Digit runs inside longer ones (timestamps, ids) and inside hex sids are left alone.
_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z_+])(?:1\d{10}|0\d{9,11}|\+\d{6,15})(?![0-9A-Za-z_])")


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
    # Alembic announces its context on every start, even with nothing to migrate.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def mask_numbers_in(text: str) -> str:
    """`text` with every phone number in it masked (`152****1314`)."""
    return _NUMBER_IN_TEXT.sub(lambda match: mask(match.group()), text)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `event=name k=v …`; phone numbers in any field (an upstream's error text quoting
    the number, say) are masked."""
    parts = [f"event={name}"] + [f"{key}={_quote(value)}" for key, value in fields.items()]
    logger.log(level, mask_numbers_in(" ".join(parts)))


def store_retry(
    logger: logging.Logger, attempt: int, error: BaseException, delay: float, **fields: object
) -> None:
    """A database write failed and is tried again in `delay` seconds."""
    event(
        logger,
        "store.retry",
        logging.WARNING,
        attempt=attempt,
        error=type(error).__name__,
        retry_in_s=delay,
        **fields,
    )


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text
