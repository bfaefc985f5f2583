"""The Throttling and Ingest health pages, run by AppTest, against SQL over the raw tables:
whatever makes them faster, every figure they show must stay what the raw rows say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from dashboard import queries, state
from dashboard.lang import CHOICE
from dashboard.queries import Filters
from ingest.i18n import CHINESE
from ingest.store.engine import make_engine
from ingest.store.health import evaluate, read_signals
from ingest.store.inbox import JSON, MALFORMED, keep_raw, mark_raw
from ingest.store.models import Report, Send
from ingest.store.upserts import store_reports
from ingest.throttle import EXAMPLE_LIMITS, NO_ACCOUNT_LIMITS, ThrottleLimits
from ingest.yunpian.client import interpret_pull_page
from tests.fixtures.dashboard import add_rows, send_row

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
MOBILE_PREFIXES = {"China Mobile": "1390000", "China Unicom": "1300000"}
# The account limits the seeded history was made with, as the dashboard is configured for it.
EXAMPLE_ENV = {"VOICEWATCH_LIMIT_PER_HOUR": "5", "VOICEWATCH_LIMIT_PER_DAY": "10"}


def open_page(
    page: str,
    db_url: str,
    monkeypatch,
    carriers: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> AppTest:
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    for name in ("VOICEWATCH_LIMIT_PER_HOUR", "VOICEWATCH_LIMIT_PER_DAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if carriers:
        at.sidebar.multiselect(key="carriers").set_value(carriers).run()
    return at.switch_page(f"app_pages/{page}.py").run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value.replace(",", "") for m in at.metric}


def reached(count: int, limit: int | None) -> bool:
    return limit is not None and count >= limit


def raw_windows(
    engine, now: datetime, limits: ThrottleLimits, carriers: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Per number, its throttle windows as of `now` under `limits`, counted in Python from
    raw sends."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Send.mobile, Send.carrier, Send.sent_at, Send.result_code, Send.code_digest
            ).where(Send.sent_at >= now - timedelta(days=1), Send.sent_at <= now)
        ).all()
    sends = pd.DataFrame(rows, columns=["mobile", "carrier", "sent_at", "code", "digest"])
    if carriers:
        sends = sends[sends["carrier"].isin(carriers)]
    sends["sent_at"] = pd.to_datetime(sends["sent_at"], utc=True)
    result = []
    for mobile, own in sends.groupby("mobile"):
        accepted = own[own["code"] == 0]
        recent = accepted[accepted["sent_at"] >= now - limits.same_code_window]
        same = int(recent.groupby("digest").size().max()) if len(recent) else 0
        last_1h = int((accepted["sent_at"] >= now - timedelta(hours=1)).sum())
        last_24h = len(accepted)
        limited = (
            same >= limits.same_code_per_window
            or reached(last_1h, limits.per_hour)
            or reached(last_24h, limits.per_day)
        )
        result.append((mobile, own["carrier"].iloc[0], last_1h, last_24h, limited))
    columns = ["mobile", "carrier", "last_1h", "last_24h", "at_limit"]
    return pd.DataFrame(result, columns=columns).sort_values(
        ["last_24h", "last_1h", "mobile"], ascending=[False, False, True]
    )


def run_at_a_steady_now(run, engine):
    """(page, now) with the page run within one 10 s step of the dashboard's clock."""
    for _ in range(5):
        before = state.now()
        at = run()
        if state.now() == before:
            return at, before
    raise AssertionError("the clock kept crossing a 10 s step")


def assert_throttling_matches(at: AppTest, expected: pd.DataFrame) -> None:
    assert not at.exception
    shown = metrics(at)
    limited = expected[expected["at_limit"]]
    assert int(shown["Numbers at a limit now"]) == len(limited)
    busiest = int(expected["last_24h"].max()) if len(expected) else 0
    assert int(shown["Busiest number, last 24 h"]) == busiest
    at_limit_table = at.dataframe[0].value if len(limited) else None
    pressure_table = at.dataframe[1 if len(limited) else 0].value
    assert pressure_table["last_24h"].tolist() == expected["last_24h"][:50].tolist()
    if at_limit_table is not None:
        rows = min(len(limited), 100)
        assert at_limit_table["last_24h"].tolist() == limited["last_24h"][:rows].tolist()
        assert at_limit_table["last_1h"].tolist() == limited["last_1h"][:rows].tolist()


def test_throttling_figures_equal_the_raw_sends(monkeypatch, seeded_sqlite):
    at, now = run_at_a_steady_now(
        lambda: open_page("throttling", seeded_sqlite.url, monkeypatch, env=EXAMPLE_ENV),
        seeded_sqlite.engine,
    )
    assert_throttling_matches(at, raw_windows(seeded_sqlite.engine, now, EXAMPLE_LIMITS))


@pytest.fixture
def many_at_limit(tmp_path):
    """150 China Mobile and 30 China Unicom numbers, each sent 12 accepted calls in the last
    24 h (over the daily limit), and 40 China Mobile numbers called twice."""
    url = f"sqlite:///{tmp_path / 'many.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    sends = []
    for carrier, count, calls in (
        ("China Mobile", 150, 12),
        ("China Unicom", 30, 12),
        ("China Mobile", 40, 2),
    ):
        for n in range(count):
            mobile = f"{MOBILE_PREFIXES[carrier]}{len(sends) % 10000:04d}"
            for k in range(calls):
                at = now - timedelta(hours=2 + k, minutes=n % 50)
                sends.append(send_row(mobile, at, code_digest=f"{k:064d}"))
    add_rows(engine, sends)
    yield url, engine
    engine.dispose()


def test_throttling_counts_every_number_at_a_limit_and_lists_the_busiest(
    monkeypatch, many_at_limit
):
    url, engine = many_at_limit
    at, now = run_at_a_steady_now(
        lambda: open_page("throttling", url, monkeypatch, env=EXAMPLE_ENV), engine
    )
    expected = raw_windows(engine, now, EXAMPLE_LIMITS)
    assert expected["at_limit"].sum() == 180
    assert_throttling_matches(at, expected)
    assert len(at.dataframe[0].value) == 100
    assert set(at.dataframe[0].value["at_limit"]) == {"24 h"}


def column_types(table) -> dict[str, str]:
    """The kind of each configured column of a shown table (progress, number, text…)."""
    return {
        name.removeprefix("name:"): config.get("type_config", {}).get("type", "")
        for name, config in json.loads(table.proto.columns or "{}").items()
    }


def page_text(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption).replace("\\", "")


def test_throttling_uses_the_configured_account_limits(monkeypatch, many_at_limit):
    url, engine = many_at_limit
    env = {"VOICEWATCH_LIMIT_PER_HOUR": "4", "VOICEWATCH_LIMIT_PER_DAY": "13"}
    at, now = run_at_a_steady_now(
        lambda: open_page("throttling", url, monkeypatch, env=env), engine
    )
    expected = raw_windows(engine, now, ThrottleLimits(per_hour=4, per_day=13))
    assert expected["at_limit"].sum() == 0  # 12 calls a day: under 13, where 10 would count
    assert_throttling_matches(at, expected)
    text = page_text(at)
    assert "4 sends in 1 h" in text and "13 sends in 24 h" in text
    types = column_types(at.dataframe[0])
    assert (types["last_1h"], types["last_24h"]) == ("progress", "progress")


def test_throttling_without_account_limits_counts_only_the_same_code_rules(
    monkeypatch, many_at_limit
):
    url, engine = many_at_limit
    at, now = run_at_a_steady_now(lambda: open_page("throttling", url, monkeypatch), engine)
    expected = raw_windows(engine, now, NO_ACCOUNT_LIMITS)
    assert expected["at_limit"].sum() == 0
    assert_throttling_matches(at, expected)
    text = page_text(at)
    assert "No 1 h or 24 h limit is configured" in text
    assert "VOICEWATCH_LIMIT_PER_HOUR" in text and "sends in 1 h" not in text
    types = column_types(at.dataframe[0])
    assert "progress" not in (types.get("last_1h"), types.get("last_24h"))
    assert not at.dataframe[0].value["at_limit"].str.contains("h").any()


def chart_data(chart) -> pd.DataFrame:
    """The rows an Altair chart on the page draws."""
    return convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data)


def test_throttling_in_chinese_translates_limits_columns_and_the_chart(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'zh.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    mobile = "13900001234"
    sends = [send_row(mobile, now - timedelta(seconds=20 * k + 40)) for k in range(8)]
    sends.append(send_row(mobile, now - timedelta(seconds=10), result_code=9))
    add_rows(engine, sends)
    monkeypatch.setenv("VOICEWATCH_DB", url)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("VOICEWATCH_LIMIT_PER_HOUR", "5")
    monkeypatch.delenv("VOICEWATCH_LIMIT_PER_DAY", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state[CHOICE] = CHINESE
    at = at.run().switch_page("app_pages/throttling.py").run()
    assert not at.exception
    at_limit, pressure, frequent = (table for table in at.dataframe)
    assert at_limit.value["at_limit"].tolist() == ["5 分钟内相同验证码 3 次、1 小时"]
    assert pressure.value["at_limit"].iloc[0] == "5 分钟内相同验证码 3 次、1 小时"
    labels = {
        name: config.get("label")
        for name, config in json.loads(frequent.proto.columns).items()
        if name != "_index"
    }
    assert set(labels) == set(frequent.value.columns)  # every column named in Chinese
    assert labels["codes"] == "不同验证码数" and labels["accepted"] == "已受理"
    [chart] = at.get("vega_lite_chart")
    assert chart_data(chart)["reason"].tolist() == [
        "[9] 同一手机号5分钟内重复提交相同的内容超过3次"
    ]
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["y"]["title"] == "拒绝次数"
    engine.dispose()


def test_throttling_tables_honour_the_carrier_filter(monkeypatch, many_at_limit):
    url, engine = many_at_limit
    at, now = run_at_a_steady_now(
        lambda: open_page(
            "throttling", url, monkeypatch, carriers=["China Unicom"], env=EXAMPLE_ENV
        ),
        engine,
    )
    expected = raw_windows(engine, now, EXAMPLE_LIMITS, carriers=("China Unicom",))
    assert_throttling_matches(at, expected)
    assert int(metrics(at)["Numbers at a limit now"]) == 30
    for table in at.dataframe[:2]:
        assert set(table.value["carrier"]) == {"China Unicom"}


def test_health_counts_each_stored_report_once_and_agrees_with_healthz(monkeypatch, seeded_sqlite):
    engine = seeded_sqlite.engine
    at, now = run_at_a_steady_now(
        lambda: open_page("health", seeded_sqlite.url, monkeypatch), engine
    )
    assert not at.exception
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(Report.first_seen >= now - timedelta(hours=1))
        ).scalar_one()
    assert int(metrics(at)["Reports stored, 1 h"]) == stored
    problems = evaluate(
        read_signals(engine, now), pull_interval=5.0, disk_min_free_bytes=512 * 2**20
    )
    shown = [e.value for e in at.error]
    assert len(shown) == len(problems)
    for problem, text in zip(problems, shown, strict=True):
        assert problem.detail.split(" since ")[0] in text.replace("\\", "")
    assert bool(at.success) == (not problems)


def test_frequent_numbers_equal_the_raw_sends_and_reports(seeded_sqlite):
    engine = seeded_sqlite.engine
    whole = Filters(seeded_sqlite.summary.start, seeded_sqlite.now + timedelta(seconds=1))
    shown = queries.frequent_numbers(engine, whole, min_sends=3, limit=10)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Send.mobile, Send.result_code, Send.code_digest, Report.status)
            .select_from(Send.__table__.outerjoin(Report.__table__, Report.sid == Send.sid))
            .where(Send.sent_at >= whole.start, Send.sent_at < whole.end)
        ).all()
    raw = pd.DataFrame(rows, columns=["mobile", "code", "digest", "status"])
    per_number = raw.groupby("mobile").agg(
        sends=("code", "size"),
        accepted=("code", lambda c: int((c == 0).sum())),
        codes=("digest", "nunique"),
        answered=("status", lambda s: int((s == "SUCCESS").sum())),
    )
    qualifying = per_number[per_number["sends"] >= 3]
    assert len(shown) == 10 and (shown["numbers_total"] == len(qualifying)).all()
    for row in shown.itertuples():
        expected = qualifying.loc[row.mobile]
        assert (row.sends, row.accepted, row.codes, row.answered) == tuple(expected)
    assert shown["sends"].tolist() == sorted(qualifying["sends"], reverse=True)[:10]
    nothing = Filters(whole.start - timedelta(days=2), whole.start - timedelta(days=1))
    assert queries.frequent_numbers(engine, nothing).empty


def report_item(sid: str, **fields) -> dict:
    return {
        "sid": sid,
        "uid": None,
        "user_receive_time": "2026-11-20 14:29:12",
        "duration": 10,
        "error_msg": None,
        "mobile": "15205201314",
        "report_status": "SUCCESS",
        **fields,
    }


@pytest.fixture
def refused_bodies(tmp_path):
    """A pulled page with two reports the store refused (their values quote a phone number
    and Markdown), stored as the pull loop stores it, and a malformed push body."""
    url = f"sqlite:///{tmp_path / 'refused.db'}"
    engine = make_engine(url)
    items = [
        report_item("kept-1"),
        report_item("bad-1", duration="**call 15205201314**"),
        report_item("kept-2"),
        report_item("bad-2", user_receive_time="[x](https://e.ex) 13800138000"),
    ]
    body = json.dumps(items).encode()
    raw_id = keep_raw(engine, "pull", body, content_type=JSON)
    page = interpret_pull_page(200, body)
    store_reports(engine, page.reports, "pull", raw_id=raw_id, refused=page.reasons())
    mark_raw(engine, keep_raw(engine, "push", b"not a report", content_type=JSON), MALFORMED, "x")
    yield url, page.reasons()
    engine.dispose()


def test_health_lists_quarantined_bodies_with_their_reasons_masked(monkeypatch, refused_bodies):
    url, reasons = refused_bodies
    at = open_page("health", url, monkeypatch)
    assert not at.exception
    shown = metrics(at)
    assert (shown["Quarantined, 24 h"], shown["Malformed, 24 h"]) == ("1", "1")
    [quarantined] = [df.value for df in at.dataframe if "reasons" in df.value]
    assert quarantined["stored"].tolist() == [2]
    [reason] = quarantined["reasons"].tolist()
    assert reason.startswith("2 of 4 reports refused: report #1: duration '**call 152****1314**'")
    assert "138****8000" in reason and "[x](https://e.ex)" in reason
    assert "15205201314" not in reason and "13800138000" not in reason
    assert "15205201314" in reasons  # what the database holds, unmasked
    [malformed] = [df.value for df in at.dataframe if "parse_error" in df.value]
    assert len(malformed) == 1


def count_calls(monkeypatch, name: str) -> list[tuple]:
    """The arguments of each call the pages make to `dashboard.queries.<name>`."""
    calls, query = [], getattr(queries, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return query(*args, **kwargs)

    counted.__name__ = name  # the pages' cache finds queries by name
    monkeypatch.setattr(queries, name, counted)
    return calls


def test_a_switch_of_range_reuses_the_throttling_windows(monkeypatch, seeded_sqlite):
    """The per-number windows end at the view's "now" whatever the range, so switching to 30
    days does not compute them again (0.8-1.1 s at 10 M reports on SQLite, every switch)."""
    windows = count_calls(monkeypatch, "throttle_view")
    rankings = count_calls(monkeypatch, "frequent_numbers")
    at = open_page("throttling", seeded_sqlite.url, monkeypatch)
    assert (len(windows), len(rankings)) == (1, 1)
    at.sidebar.selectbox(key="range").set_value("Last 30 days").run()
    assert not at.exception
    assert len(rankings) == 2  # the page did read the new range
    assert len(windows) == 1
