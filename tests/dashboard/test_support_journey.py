"""A support person, in the browser only: "no call came" → why, when to retry → a test call."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
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
LIMIT_PER_HOUR = 2


def text_of(browser) -> str:
    return browser.find_element("tag name", "body").text


def type_into(browser, label: str, text: str, enter: bool = False) -> None:
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("css selector", f'input[aria-label="{label}"]')
    field.clear()
    field.send_keys(text + (Keys.ENTER if enter else ""))


def replace_text(browser, label: str, text: str) -> None:
    """Select what a form field holds and type over it (`clear()` does not reach Streamlit's
    form state)."""
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("css selector", f'input[aria-label="{label}"]')
    field.send_keys(Keys.CONTROL, "a")  # a modifier is held to the end of its send_keys
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def click(browser, label: str) -> None:
    browser.find_element("xpath", f"//button[.//p[normalize-space()='{label}']]").click()


@pytest.fixture
def live_app(sqlite_url, make_ingest, make_simulator, engine, tmp_path):
    """Simulator → push → ingest service → the database the real dashboard reads. The
    account allows 2 calls per number per hour, in the simulator and in the dashboard's
    configuration alike; only calls sent with voicewatch's callback URL are pushed back."""
    ingest = make_ingest()
    simulator = make_simulator(limit_per_hour=LIMIT_PER_HOUR)
    port = free_port()
    dashboard = run_dashboard(
        port,
        env={
            "VOICEWATCH_DB": sqlite_url,
            "YUNPIAN_VOICE_URL": simulator.url,
            "YUNPIAN_APIKEY": simulator.apikey,
            "VOICEWATCH_DIGEST_KEY": "test-digest-key",
            "VOICEWATCH_CALLBACK_URL": f"{ingest.url}/push/voice",
            "VOICEWATCH_LIMIT_PER_HOUR": str(LIMIT_PER_HOUR),
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), timeout=60)
        yield url, simulator
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=15)


@pytest.fixture
def db_url(sqlite_url) -> str:
    """The dashboard reads a SQLite file here; PostgreSQL is covered by the query tests."""
    return sqlite_url


def an_earlier_call(engine, simulator) -> None:
    """The ticket's call: placed at the simulator (so it counts toward the hourly limit there
    too), stored as the relay stores it, and its report: the phone was off."""
    answer = httpx.post(
        f"{simulator.url}/v2/voice/send.json",
        data={"apikey": simulator.apikey, "mobile": NUMBER, "code": "8642"},
    ).json()
    sent_at = utcnow() - timedelta(seconds=5)
    record_send(
        engine,
        Send(
            sent_at=sent_at,
            mobile=NUMBER,
            code_digest="d",
            result_code=0,
            fee=1,
            count=1,
            sid=answer["sid"],
            source="relay",
            carrier="",
            province="",
        ),
    )
    store_reports(
        engine,
        [
            ReportRecord(
                answer["sid"], NUMBER, "FAIL", sent_at + timedelta(seconds=30), 0, "用户关机"
            )
        ],
        "push",
    )


def a_call_with_no_report(engine) -> None:
    """An older call to the number, 70 min ago (outside the hourly limit's window), whose
    report never came: "no report" after VOICEWATCH_NO_REPORT_AFTER (15 min by default)."""
    record_send(
        engine,
        Send(
            sent_at=utcnow() - timedelta(minutes=70),
            mobile=NUMBER,
            code_digest="e",
            result_code=0,
            fee=1,
            count=1,
            sid="0" * 31 + "1",
            source="relay",
            carrier="",
            province="",
        ),
    )


@contextmanager
def tall_window(browser, height: int):
    """The window `height` px tall for a screenshot of a whole page, then as it was."""
    size = browser.get_window_size()
    browser.set_window_size(size["width"], height)
    try:
        yield
    finally:
        browser.set_window_size(size["width"], size["height"])


def open_lookup(browser, url: str, query: str) -> None:
    browser.get(f"{url}/lookup")
    wait_until(
        lambda: browser.find_elements("css selector", 'input[aria-label="Number or sid"]'),
        timeout=45,
    )
    type_into(browser, "Number or sid", query, enter=True)


def test_support_finds_why_a_call_failed_and_sends_a_test_call(live_app, browser, engine):
    url, simulator = live_app
    a_call_with_no_report(engine)
    an_earlier_call(engine, simulator)

    # The customer writes the number their way; support finds the one history.
    open_lookup(browser, url, "+86 152 0520 1314")
    wait_until(
        lambda: "“用户关机”" in text_of(browser) and "Next accepted send" in text_of(browser),
        timeout=30,
    )
    page = text_of(browser)
    assert "“用户关机”: phone off or out of service — the phone was switched off." in page
    assert "Ask the user to switch the phone on, then retry." in page
    assert "per number 2 per hour" in page and NUMBER not in page
    assert re.search(r"Not answered\s+1\s+No report\s+1", page), page
    with tall_window(browser, 1320):  # the reason, the retry and the timeline in one picture
        wait_until(lambda: "Timeline" in text_of(browser), timeout=10)
        browser.save_screenshot(str(SCREENSHOTS / "journey_lookup.png"))

    # Only the masked number from a ticket: pick it from the numbers it may mean.
    open_lookup(browser, url, "152****1314")
    wait_until(lambda: "pick the number you mean" in text_of(browser), timeout=30)
    browser.find_element(
        "xpath", "//button[.//p[starts-with(normalize-space(), '152****1314')]]"
    ).click()
    wait_until(lambda: "Next accepted send" in text_of(browser), timeout=30)

    browser.get(f"{url}/send_test")
    wait_until(
        lambda: browser.find_elements("css selector", 'input[aria-label="Number"]'), timeout=45
    )
    type_into(browser, "Your name", "support-ann", enter=True)
    type_into(browser, "Number", "152 0520 1314")
    click(browser, "Check")
    # 1 of 2 calls this hour: predicted to pass, and the simulator accepts it.
    wait_until(lambda: "Yes, call now" in text_of(browser), timeout=30)
    assert "would refuse" not in text_of(browser)
    click(browser, "Yes, call now")
    wait_until(lambda: "Accepted: sid" in text_of(browser), timeout=30)
    wait_until(
        lambda: "Answered: call ended" in text_of(browser) or "Not answered (" in text_of(browser),
        timeout=60,
    )
    report = browser.find_element(
        "xpath",
        "//*[contains(text(), 'Answered: call ended') or contains(text(), 'Not answered (')]",
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", report)
    browser.save_screenshot(str(SCREENSHOTS / "journey_send_test.png"))
    with engine.connect() as connection:
        actor, source, mobile = connection.execute(
            select(Send.actor, Send.source, Send.mobile).order_by(Send.id.desc())
        ).first()
    assert (actor, source, mobile) == ("support-ann", "dashboard", NUMBER)

    # 2 of 2: a third is predicted refused with code 22, and the simulator refuses it so.
    replace_text(browser, "Number", "15205201314")
    click(browser, "Check")
    wait_until(lambda: "Send anyway" in text_of(browser), timeout=30)
    page = text_of(browser)
    assert "2 sends in the last hour reached the account's 1 h limit (code 22)" in page
    assert "Accepted: sid" not in page  # the last result is cleared by the new check
    click(browser, "Send anyway")
    wait_until(lambda: "Yunpian refused the send: code 22" in text_of(browser), timeout=30)
