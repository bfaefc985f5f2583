"""Comparisons a product review asks for: a period against the one before it, per carrier,
province or country, with the change's significance, and whether the earlier period can be
compared at all."""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from dashboard.queries._sql import Filters
from dashboard.queries.traffic import MIN_SAMPLE, answer_rate_by

Z_95 = 1.96  # two-sided 95 %


def comparable(previous_sends: int, previous: Filters, first_send: datetime | None) -> bool:
    """Whether an earlier period can be compared with: it has at least MIN_SAMPLE sends and
    data covered all of it (its start is not before the first day anything was sent)."""
    if previous_sends < MIN_SAMPLE or first_send is None:
        return False
    return first_send <= previous.start


def rate_change_significant(
    answered_now: int, reported_now: int, answered_before: int, reported_before: int
) -> bool | None:
    """Whether two answer rates differ at 95 % (two-proportion z-test); None when either
    period has fewer than MIN_SAMPLE reported calls."""
    if min(reported_now, reported_before) < MIN_SAMPLE:
        return None
    pooled = (answered_now + answered_before) / (reported_now + reported_before)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / reported_now + 1 / reported_before))
    if spread == 0:
        return False
    z = (answered_now / reported_now - answered_before / reported_before) / spread
    return bool(abs(z) >= Z_95)


def period_comparison(
    engine: Engine, current: Filters, previous: Filters, dimension: str = "carrier"
) -> pd.DataFrame:
    """Per carrier, mainland province or country, busiest first: <dimension>, sends,
    sends_before, sends_change (None without MIN_SAMPLE sends before), answer_rate,
    answer_rate_before, rate_change (share points) and significant (None: too few calls)."""
    now = answer_rate_by(engine, current, dimension)
    before = answer_rate_by(engine, previous, dimension)
    columns = [dimension, "sends", "answered", "failed"]
    both = now[columns].merge(before[columns], on=dimension, how="outer", suffixes=("", "_before"))
    counts = [c for c in both.columns if c != dimension]
    both[counts] = both[counts].fillna(0).astype("int64")
    reported = both["answered"] + both["failed"]
    reported_before = both["answered_before"] + both["failed_before"]
    both["answer_rate"] = _rate(both["answered"], reported)
    both["answer_rate_before"] = _rate(both["answered_before"], reported_before)
    enough_before = both["sends_before"] >= MIN_SAMPLE
    both["sends_change"] = (both["sends"] - both["sends_before"]).where(enough_before)
    both["rate_change"] = both["answer_rate"] - both["answer_rate_before"]
    both["significant"] = pd.Series(
        [
            rate_change_significant(int(a), int(r), int(ab), int(rb))
            for a, r, ab, rb in zip(
                both["answered"], reported, both["answered_before"], reported_before, strict=True
            )
        ],
        index=both.index,
        dtype=object,  # True, False or None (too few calls)
    )
    both = both.sort_values(["sends", dimension], ascending=[False, True], ignore_index=True)
    return both[
        [
            dimension,
            "sends",
            "sends_before",
            "sends_change",
            "answer_rate",
            "answer_rate_before",
            "rate_change",
            "significant",
        ]
    ]


def _rate(answered: pd.Series, reported: pd.Series) -> pd.Series:
    """answered / reported where at least MIN_SAMPLE calls reported, else None."""
    return (answered / reported.where(reported >= MIN_SAMPLE)).astype("float64")
