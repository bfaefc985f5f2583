"""In real headless Chromium against a dashboard with a password: the login holds across a
reload and a shared link and is lost with a tampered cookie; outside text (a stored
error_msg, a `?sid=` in the URL) makes no link, image or HTML in the page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from dashboard.login import COOKIE
from ingest.store.engine import make_engine
from tests.dashboard.test_outside_text import MARKUP, add_poisoned_rows
from tests.fixtures.browser import served_dashboard
from tests.servers import wait_until

pytestmark = pytest.mark.browser
PASSWORD = "browser-letmein-3"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A password-protected dashboard over poisoned rows: (its URL, a poisoned call's sid)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('guarded') / 'voicewatch.db'}"
    engine = make_engine(url)
    first = add_poisoned_rows(engine)
    engine.dispose()
    env = {
        "VOICEWATCH_DB": url,
        "VOICEWATCH_DASHBOARD_PASSWORD": PASSWORD,
        "VOICEWATCH_UNMASK_PASSWORD": "",
        "VOICEWATCH_DIGEST_KEY": "guarded-digest-key",
    }
    with served_dashboard(env) as base:
        yield base, first["sid"]


@pytest.fixture
def fresh(browser) -> Iterator[object]:
    """The shared browser with no cookies before and after the test."""
    browser.delete_all_cookies()
    yield browser
    browser.delete_all_cookies()


def _body(driver) -> str:
    """The page's text as a reader sees it (without the invisible joiners that unlink URLs)."""
    return driver.find_element("tag name", "body").text.replace("\u2060", "")


def _at_login_form(driver) -> bool:
    return bool(driver.find_elements("css selector", "input[type=password]")) and (
        "Log in to continue" in _body(driver)
    )


def _logged_in(driver) -> bool:
    return "Logged in as" in _body(driver) and not _at_login_form(driver)


def log_in(driver, base: str) -> None:
    driver.get(base)
    wait_until(lambda: _at_login_form(driver), timeout=45, interval=0.25)
    # Inside the login form: the sidebar's language switch, shown before the login, is an
    # input too, and the first one on the page.
    form = driver.find_element("css selector", '[data-testid="stForm"]')
    form.find_element("css selector", "input:not([type=password])").send_keys("li.wei")
    form.find_element("css selector", "input[type=password]").send_keys(PASSWORD)
    button = next(b for b in form.find_elements("css selector", "button") if "Log in" in b.text)
    button.click()
    wait_until(lambda: _logged_in(driver), timeout=45, interval=0.25)
    wait_until(lambda: driver.get_cookie(COOKIE) is not None, timeout=15, interval=0.25)


def test_login_holds_across_reload_and_shared_link_and_not_a_tampered_cookie(fresh, guarded):
    base, sid = guarded
    log_in(fresh, base)
    fresh.refresh()
    wait_until(lambda: _logged_in(fresh), timeout=45, interval=0.25)
    fresh.get(f"{base}/lookup?sid={sid}")  # a link a colleague shared
    wait_until(lambda: _logged_in(fresh) and "not answered" in _body(fresh), timeout=45)
    cookie = fresh.get_cookie(COOKIE)
    assert cookie["sameSite"] == "Strict"
    tampered = cookie["value"][:-3] + ("AAA" if not cookie["value"].endswith("AAA") else "BBB")
    fresh.delete_cookie(COOKIE)
    fresh.add_cookie({"name": COOKIE, "value": tampered, "path": "/"})
    fresh.refresh()
    wait_until(lambda: _at_login_form(fresh), timeout=45, interval=0.25)
    assert "Logged in as" not in _body(fresh)


def _outside_markup(driver) -> list[str]:
    """Links, images and frames pointing at the attacker's host, and any bold text, anywhere
    in the page's DOM."""
    found = driver.execute_script(
        """return Array.from(document.querySelectorAll(
            'a[href*="evil.example"], img[src*="evil.example"], iframe[src*="evil.example"],'
            + ' [data-testid="stAlert"] strong, [data-testid="stAlert"] em'
        )).map(e => e.outerHTML.slice(0, 120));"""
    )
    return list(found)


@pytest.mark.parametrize("where", ["stored error_msg", "sid in the URL"])
def test_outside_text_makes_no_link_image_or_markup(fresh, guarded, where):
    base, sid = guarded
    log_in(fresh, base)
    if where == "stored error_msg":
        fresh.get(f"{base}/lookup?sid={sid}")
        expected = "not answered"
    else:
        fresh.get(f"{base}/lookup?sid={quote(MARKUP)}")
        expected = "Nothing stored for"
    wait_until(lambda: expected in _body(fresh), timeout=45, interval=0.25)
    assert _outside_markup(fresh) == []
    assert "[Session expired — log in again](https://evil.example/login)" in _body(fresh)
    assert "**bold**" in _body(fresh)
