"""The Alerts page under AppTest: a firing alert with its numbers and chart, silencing and
lifting (audited), masked channels and the test button reaching a local receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from ingest.alerts.channels import Channels
from ingest.alerts.loop import AlertLoop
from ingest.store.alert_models import AlertSilence
from ingest.store.engine import make_engine
from tests.ingest.alerts.conftest import receiver  # noqa: F401  (the local channel)
from tests.ingest.alerts.support import add_calls, default_rule

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
SECRET_TOKEN = "deadbeefdeadbeefdeadbeef"


@pytest.fixture
def firing_db(tmp_path):
    """A database where the carrier rule fires for China Mobile, evaluated a moment ago."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    add_calls(engine, now - timedelta(minutes=1), 40, 4, carrier="China Mobile")
    add_calls(engine, now - timedelta(minutes=1), 40, 34, carrier="China Unicom")
    rule = default_rule("answer_rate_drop_carrier")
    AlertLoop(engine, [rule], Channels([]), "http://dash", clock=lambda: now).tick()
    return url, engine


def open_alerts(monkeypatch, db_url: str, **env: str) -> AppTest:
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    return at.switch_page("app_pages/alerts.py").run()


def test_firing_alert_shows_its_numbers_and_chart(monkeypatch, firing_db):
    at = open_alerts(monkeypatch, firing_db[0])
    assert not at.exception
    assert any("Answer rate dropped for a carrier" in h.value for h in at.subheader)
    assert any(t.value == "carrier: China Mobile" for t in at.text)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Now"] == "10.0%" and metrics["Baseline"] == "78.0%"
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


def test_silence_needs_a_name_and_is_audited_then_lifted(monkeypatch, firing_db):
    url, engine = firing_db
    at = open_alerts(monkeypatch, url)
    at.text_input(key="alerts_actor").input("").run()
    next(t for t in at.text_input if t.label == "Reason").input("carrier maintenance")
    next(b for b in at.get("form_submit_button")).click().run()
    assert any("needs a reason and the name" in e.value for e in at.error)
    at.text_input(key="alerts_actor").input("Li Lei").run()
    next(t for t in at.text_input if t.label == "Reason").input("carrier maintenance")
    next(b for b in at.get("form_submit_button")).click().run()
    with Session(engine) as session:
        (row,) = session.scalars(select(AlertSilence)).all()
    assert (row.rule, row.subject, row.created_by) == (
        "answer_rate_drop_carrier",
        "carrier=China Mobile",
        "Li Lei",
    )
    next(b for b in at.button if b.label.startswith("Lift silence")).click().run()
    with Session(engine) as session:
        (row,) = session.scalars(select(AlertSilence)).all()
    assert row.lifted_by == "Li Lei" and row.lifted_at is not None


def test_channels_are_masked_and_the_test_button_sends(monkeypatch, firing_db, receiver):  # noqa: F811
    urls = f"json://{receiver.host}/hook?token={SECRET_TOKEN} wecombot://{SECRET_TOKEN}"
    at = open_alerts(monkeypatch, firing_db[0], VOICEWATCH_ALERT_URLS=urls)
    shown = [t.value for t in at.text]
    assert f"json://{receiver.host}/***" in shown and "wecombot://***" in shown
    assert SECRET_TOKEN not in str([e.value for e in at.main if hasattr(e, "value")])
    # Only the local channel for the button: a test must not call WeCom's real host.
    monkeypatch.setenv("VOICEWATCH_ALERT_URLS", f"json://{receiver.host}/hook?token={SECRET_TOKEN}")
    at.run()
    next(b for b in at.button if b.label == "Send test").click().run()
    assert len(receiver.received) == 1 and "alert test" in receiver.texts()[0]
    assert any(s.value == f"sent: json://{receiver.host}/***" for s in at.success)
