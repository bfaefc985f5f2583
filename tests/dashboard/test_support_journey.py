"""A support person, in the browser only: "no call came" → why, when to retry → a test call."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.cli import run_dashboard
from ingest.store.models import Send
from ingest.store.upserts import store_reports
from ingest.store.writes import record_send, utcnow
from ingest.yunpian.reports import Report as ReportRecord
from tests.fixtures.browser import _healthy
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
NUMBER = "15205201314"


def text_of(browser) -> str:
    return browser.find_element("tag name", "body").text


def type_into(browser, label: str, text: str, enter: bool = False) -> None:
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("css selector", f'input[aria-label="{label}"]')
    field.clear()
    field.send_keys(text + (Keys.ENTER if enter else ""))


def click(browser, label: str) -> None:
    browser.find_element("xpath", f"//button[.//p[normalize-space()='{label}']]").click()


@pytest.fixture
def live_app(sqlite_url, make_ingest, make_simulator, engine, tmp_path):
    """Simulator → push → ingest service → the database the real dashboard reads."""
    ingest = make_ingest()
    simulator = make_simulator(push_url=f"{ingest.url}/push/voice")
    port = free_port()
    dashboard = run_dashboard(
        port,
        env={
            "VOICEWATCH_DB": sqlite_url,
            "YUNPIAN_VOICE_URL": simulator.url,
            "YUNPIAN_APIKEY": simulator.apikey,
            "VOICEWATCH_DIGEST_KEY": "test-digest-key",
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), timeout=60)
        yield url
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=15)


@pytest.fixture
def db_url(sqlite_url) -> str:
    """The dashboard reads a SQLite file here; PostgreSQL is covered by the query tests."""
    return sqlite_url


def test_support_finds_why_a_call_failed_and_sends_a_test_call(live_app, browser, engine):
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    record_send(
        engine,
        Send(
            sent_at=two_minutes_ago,
            mobile=NUMBER,
            code_digest="d",
            result_code=0,
            fee=1,
            count=1,
            sid="f" * 32,
            source="relay",
            carrier="",
            province="",
        ),
    )
    store_reports(
        engine,
        [
            ReportRecord(
                "f" * 32, NUMBER, "FAIL", two_minutes_ago + timedelta(seconds=30), 0, "用户关机"
            )
        ],
        "push",
    )

    browser.get(f"{live_app}/lookup")
    wait_until(
        lambda: browser.find_elements("css selector", 'input[aria-label="Number or sid"]'),
        timeout=45,
    )
    type_into(browser, "Number or sid", NUMBER, enter=True)
    wait_until(
        lambda: "用户关机" in text_of(browser) and "Next accepted send" in text_of(browser),
        timeout=30,
    )
    page = text_of(browser)
    assert "not answered: “用户关机”" in page and "152****1314" in page and NUMBER not in page
    browser.save_screenshot(str(SCREENSHOTS / "journey_lookup.png"))

    browser.get(f"{live_app}/send_test")
    wait_until(
        lambda: browser.find_elements("css selector", 'input[aria-label="Number"]'), timeout=45
    )
    type_into(browser, "Your name", "support-ann", enter=True)
    type_into(browser, "Number", NUMBER)
    click(browser, "Check")
    wait_until(lambda: "Yes, call now" in text_of(browser), timeout=30)
    click(browser, "Yes, call now")
    wait_until(lambda: "Accepted: sid" in text_of(browser), timeout=30)
    wait_until(
        lambda: "Answered at" in text_of(browser) or "Not answered:" in text_of(browser), timeout=60
    )
    report = browser.find_element(
        "xpath", "//*[contains(text(), 'Answered at') or contains(text(), 'Not answered:')]"
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", report)
    browser.save_screenshot(str(SCREENSHOTS / "journey_send_test.png"))
    with engine.connect() as connection:
        actor, source = connection.execute(
            select(Send.actor, Send.source).order_by(Send.id.desc())
        ).first()
    assert (actor, source) == ("support-ann", "dashboard")
