"""The send-test page: each viewer may place a limited number of calls an hour, and every
call placed by hand is shown in an audit of who, when and which (masked) number."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.store.engine import make_engine
from tests.fixtures.dashboard import add_rows, send_row

APP = Path(__file__).parents[2] / "dashboard" / "app.py"


@pytest.fixture
def send_page(monkeypatch, tmp_path, simulator):
    """The send-test page on a fresh database, calling the simulator, two sends an hour."""
    url = f"sqlite:///{tmp_path / 'abuse.db'}"
    engine = make_engine(url)
    env = {
        "VOICEWATCH_DB": url,
        "YUNPIAN_APIKEY": simulator.apikey,
        "YUNPIAN_VOICE_URL": simulator.url,
        "VOICEWATCH_DIGEST_KEY": "abuse-test",
        "VOICEWATCH_MANUAL_SENDS_PER_HOUR": "2",
        "VOICEWATCH_DASHBOARD_PASSWORD": "",
        "VOICEWATCH_UNMASK_PASSWORD": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    yield at.switch_page("app_pages/send_test.py").run(), engine
    engine.dispose()


def check(at: AppTest, actor: str, mobile: str) -> AppTest:
    at.text_input(key="send_actor").input(actor)
    next(t for t in at.text_input if t.label == "Number").input(mobile)
    return next(b for b in at.button if b.label == "Check").click().run()


def call_now(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Yes, call now").click().run()


def test_a_viewer_over_the_hourly_limit_cannot_send_and_others_still_can(send_page, simulator):
    at, _ = send_page
    for mobile in ("13900000001", "13900000002"):
        call_now(check(at, "li.wei", mobile))
        assert not at.exception and any("Accepted" in s.value for s in at.success)

    check(at, "li.wei", "13900000003")
    assert "You have used all 2 manual sends for this hour." in [e.value for e in at.error]
    assert "Yes, call now" not in [b.label for b in at.button]

    call_now(check(at, "zhang.san", "13900000004"))
    calls = sorted(call["mobile"] for call in simulator.ground_truth()["calls"])
    assert calls == ["13900000001", "13900000002", "13900000004"]


def test_every_manual_send_is_in_the_audit_with_a_masked_number(send_page):
    at, engine = send_page
    add_rows(engine, [send_row("13700000009", datetime.now(UTC), source="relay")])
    call_now(check(at, "li.wei", "13900000001"))
    call_now(check(at, "zhang.san", "13900000002"))

    audit = next(df.value for df in at.dataframe if "actor" in df.value)
    rows = audit[["source", "actor", "mobile", "result_code"]].values.tolist()
    assert rows == [
        ["dashboard", "zhang.san", "139****0002", 0],
        ["dashboard", "li.wei", "139****0001", 0],
    ]
    assert audit["sent_at"].notna().all()
