"""The raw export: every send in a range with its report, for analysis elsewhere, written as
CSV in chunks so its size is bounded by the disk, not by memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import pandas as pd
from sqlalchemy import Engine, select

from dashboard.queries._sql import REPORTS, SENDS, Filters, country_of, filtered, with_reports
from dashboard.queries.failures import call_category

CHUNK_ROWS = 5000
RAW_COLUMNS = (
    "sent_at",
    "mobile",
    "sid",
    "source",
    "carrier",
    "country",
    "province",
    "result_code",
    "fee",
    "status",
    "error_msg",
    "category",
    "user_receive_time",
    "duration_s",
)


def write_sends_csv(
    engine: Engine,
    filters: Filters,
    out: BinaryIO,
    shape: Callable[[pd.DataFrame], pd.DataFrame],
    header: str = "",
    fee_unit: str = "credits",
) -> int:
    """Write the sends in `filters` with their reports to `out` as UTF-8 CSV (BOM, then
    `header` as a '# ' line when given), oldest first, each chunk passed through `shape`
    (masking, formula safety) before it is written. Times are China time; the fee column is
    named with its unit (`fee_credits`, `fee_yuan`). Returns the rows written."""
    stmt = filtered(
        with_reports(
            select(
                SENDS.c.sent_at,
                SENDS.c.mobile,
                SENDS.c.sid,
                SENDS.c.source,
                SENDS.c.carrier,
                country_of(SENDS.c.province, SENDS.c.carrier).label("country"),
                SENDS.c.province,
                SENDS.c.result_code,
                SENDS.c.fee,
                REPORTS.c.status,
                REPORTS.c.error_msg,
                REPORTS.c.user_receive_time,
                REPORTS.c.duration.label("duration_s"),
            )
        ),
        filters,
    ).order_by(SENDS.c.sent_at, SENDS.c.id)
    out.write("\ufeff".encode())
    if header:
        out.write(f"# {header}\n".encode())
    written = 0
    named = {"fee": f"fee_{fee_unit}"}
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(stmt)
        keys = list(result.keys())
        for rows in result.partitions(CHUNK_ROWS):
            chunk = _readable(pd.DataFrame(rows, columns=keys)).rename(columns=named)
            out.write(shape(chunk).to_csv(index=False, header=written == 0).encode())
            written += len(chunk)
    if not written:
        out.write((",".join(named.get(c, c) for c in RAW_COLUMNS) + "\n").encode())
    return written


def _readable(chunk: pd.DataFrame) -> pd.DataFrame:
    """Times in China time, and a call failure's category beside its reason."""
    for column in ("sent_at", "user_receive_time"):
        chunk[column] = (
            pd.to_datetime(chunk[column], utc=True)
            .dt.tz_convert("Asia/Shanghai")
            .dt.strftime("%Y-%m-%d %H:%M:%S")
        )
    failed = chunk["status"] == "FAIL"
    chunk["category"] = (
        chunk["error_msg"]
        .where(failed)
        .map(lambda msg: call_category(msg) if isinstance(msg, str) else None)
    )
    chunk.loc[failed & chunk["error_msg"].isna(), "category"] = call_category("")
    chunk["result_code"] = chunk["result_code"].astype("Int64")
    chunk["duration_s"] = chunk["duration_s"].astype("Int64")
    return chunk[list(RAW_COLUMNS)]
