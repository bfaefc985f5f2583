"""A report_status Yunpian has not documented is stored as it came (ingest/yunpian/reports.py):
every dashboard query takes it, and the Overview counts it as neither answered nor failed."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pandas as pd

from dashboard import queries
from dashboard.queries import Filters
from tests.fixtures.dashboard import add_rows, report_row, send_row, utc

T0 = utc(2025, 6, 2, 2, 0)


def test_an_unknown_status_is_counted_as_neither_answered_nor_failed_and_breaks_no_query(engine):
    sends = [
        send_row(f"1520520131{i}", T0 + timedelta(minutes=i), sid=f"sid-{i}") for i in range(3)
    ]
    reports = [
        report_row(sends[0], "SUCCESS", 20),
        report_row(sends[1], "FAIL", 30),
        report_row(sends[2], "UNREACHABLE", 40),
    ]
    add_rows(engine, sends=sends, reports=reports)
    filters = Filters(T0 - timedelta(hours=1), T0 + timedelta(hours=1))

    kpi = queries.kpis(engine, filters)
    assert (kpi.sends, kpi.answered, kpi.failed) == (3, 1, 1)
    ran = 0
    for name in queries.__all__:
        function = getattr(queries, name)
        if not inspect.isfunction(function):
            continue
        parameters = list(inspect.signature(function).parameters)
        if parameters[:2] == ["engine", "filters"]:
            function(engine, filters)
            ran += 1
    assert ran >= 5
    timeline = queries.lookup_timeline(engine, "15205201312")
    assert isinstance(timeline, pd.DataFrame)
    assert "UNREACHABLE" in set(timeline.get("status", pd.Series(dtype=str)))
