"""The password login: failed logins are limited per viewer name and per client, and every
login, failed login, logout and unmask lands in the audit log the Send-test page shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from dashboard import login
from ingest.settings import Settings
from ingest.store.audit import record_viewer_event
from ingest.store.engine import make_engine
from ingest.store.models import ViewerEvent

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
PASSWORD, UNMASK = "letmein-7", "open-sesame"


@pytest.fixture
def app(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'login.db'}"
    engine = make_engine(url)
    monkeypatch.setenv("VOICEWATCH_DB", url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "login-digest-key")
    monkeypatch.setenv("VOICEWATCH_DASHBOARD_PASSWORD", PASSWORD)
    monkeypatch.setenv("VOICEWATCH_UNMASK_PASSWORD", UNMASK)

    def open_app() -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=30).run()

    yield open_app, engine
    engine.dispose()


def attempt(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    return at.button[0].click().run()


def events(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(ViewerEvent.event, ViewerEvent.viewer, ViewerEvent.client).order_by(
                ViewerEvent.id
            )
        ).all()
    return [tuple(row) for row in rows]


def test_failed_logins_for_one_name_are_limited_even_with_the_right_password(app):
    open_app, engine = app
    at = open_app()
    for _ in range(login.MAX_FAILURES_PER_NAME):
        attempt(at, "li.wei", "guess")
        assert "Wrong password, or no name given." in [e.value for e in at.error]
    attempt(at, "li.wei", PASSWORD)
    assert any("Too many failed logins" in e.value for e in at.error)
    assert not at.metric  # still at the login form
    assert events(engine)[-1] == ("login_refused", "li.wei", "localhost")


def test_failed_logins_from_one_client_are_limited_across_names(app):
    open_app, engine = app
    now = datetime.now(UTC)
    for i in range(login.MAX_FAILURES_PER_CLIENT):
        record_viewer_event(engine, "login_failed", f"name-{i}", "localhost", now)
    at = attempt(open_app(), "fresh.name", PASSWORD)
    assert any("Too many failed logins" in e.value for e in at.error)


def test_old_failures_do_not_count(app):
    open_app, engine = app
    long_ago = datetime.now(UTC) - login.FAILURE_WINDOW - timedelta(minutes=1)
    for _ in range(login.MAX_FAILURES_PER_CLIENT):
        record_viewer_event(engine, "login_failed", "li.wei", "localhost", long_ago)
    at = attempt(open_app(), "li.wei", PASSWORD)
    assert not at.error and at.metric


def test_logins_unmasks_and_logouts_are_in_the_audit_log(app):
    open_app, engine = app
    at = open_app()
    attempt(at, "li.wei", "nope")
    attempt(at, "li.wei", PASSWORD)
    at.sidebar.text_input(key="unmask_entered").input("wrong")
    next(b for b in at.sidebar.button if b.label == "Unmask").click().run()
    at.sidebar.text_input(key="unmask_entered").input(UNMASK)
    next(b for b in at.sidebar.button if b.label == "Unmask").click().run()
    at.switch_page("app_pages/send_test.py").run()
    audit = next(df.value for df in at.dataframe if "event" in df.value)
    assert audit["event"].tolist() == ["unmask", "unmask_failed", "login", "login_failed"]
    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert [e for e, _, _ in events(engine)][-1] == "logout"
    assert at.text_input[1].label == "Password"  # back at the login form


def test_the_login_token_is_signed_and_expires():
    settings = Settings.from_env(
        {"VOICEWATCH_DASHBOARD_PASSWORD": PASSWORD, "VOICEWATCH_DIGEST_KEY": "k"}, env_file=None
    )
    token = login.login_token(settings, "li.wei")
    assert login.viewer_from_token(settings, token) == "li.wei"
    payload, _, signature = token.rpartition(".")
    assert login.viewer_from_token(settings, payload + "." + signature[::-1]) is None
    other = Settings.from_env(
        {"VOICEWATCH_DASHBOARD_PASSWORD": "changed", "VOICEWATCH_DIGEST_KEY": "k"}, env_file=None
    )
    assert login.viewer_from_token(other, token) is None  # a new password logs everyone out
    # The clock, not a fault: the token is checked 12 h and a minute from now.
    later = datetime.now(UTC) + login.LOGIN_TTL + timedelta(minutes=1)
    with patch("itsdangerous.timed.time.time", return_value=later.timestamp()):
        assert login.viewer_from_token(settings, token) is None
