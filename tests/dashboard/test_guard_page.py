"""The Guard page: decisions, blocked destinations, and list edits that are audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dashboard.lang import CHOICE
from ingest.i18n import CHINESE
from ingest.store.engine import make_engine
from ingest.store.models import GuardAttempt, GuardListChange
from tests.dashboard.test_pages import open_page  # noqa: F401 (fixture)


def attempts(engine, n_blocked: int, n_recorded: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "at": now - timedelta(minutes=30, seconds=i),
            "mobile": f"+2327612{i:04d}",
            "prefix": "23276120",
            "country": "SL",
            "app": "shop",
            "passed": i >= n_blocked,
            "rule": "range velocity" if i < n_blocked else "destination",
            "mode": "enforce" if i < n_blocked else "record-only",
            "fired": "range velocity",
        }
        for i in range(n_blocked + n_recorded)
    ]
    with engine.begin() as connection:
        connection.execute(insert(GuardAttempt.__table__), rows)


def test_guard_page_counts_blocked_and_would_block_and_lists_the_top_country(
    open_page,  # noqa: F811
    tmp_path,
):
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    engine = make_engine(url)
    attempts(engine, n_blocked=7, n_recorded=3)
    at = open_page("guard", url, VOICEWATCH_LANG="en")
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Blocked"] == "7" and shown["Record-only would block"] == "3"
    assert shown["Sends checked"] == "10"
    countries = at.dataframe[0].value
    assert list(countries["country"]) == ["SL"] and list(countries["blocked"]) == [7]


def test_adding_to_the_block_list_from_the_page_is_audited(open_page, tmp_path):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    engine = make_engine(url)
    at = open_page("guard", url)
    at.selectbox[0].select("block")
    at.text_input[0].input("+23276*")
    next(b for b in at.button if b.label == "Add").click().run()
    assert not at.exception
    with Session(engine) as session:
        change = session.scalars(select(GuardListChange)).one()
    assert (change.action, change.kind, change.value, change.via) == (
        "add",
        "block",
        "+23276*",
        "dashboard",
    )


def test_guard_page_in_chinese_names_columns_lists_and_modes(open_page, tmp_path):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'guard.db'}"
    engine = make_engine(url)
    attempts(engine, n_blocked=2, n_recorded=1)
    at = open_page("guard", url, VOICEWATCH_LANG="zh_CN")
    at.session_state[CHOICE] = CHINESE
    at.run()
    assert not at.exception
    countries = at.dataframe[0]
    labels = {n: c.get("label") for n, c in json.loads(countries.proto.columns).items()}
    assert [labels[c] for c in countries.value.columns] == [
        "国家/地区",
        "已拦截",
        "本会拦截（仅记录）",
    ]
    assert at.selectbox[0].options == ["白名单", "黑名单"]
    assert at.selectbox[1].options == ["关闭", "仅记录", "拦截"]
