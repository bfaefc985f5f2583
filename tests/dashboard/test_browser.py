"""Every page in real headless Chromium against the real app; screenshots for the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.lang import COOKIE
from ingest.i18n import CHINESE
from ingest.store.models import Report
from tests.servers import wait_until

pytestmark = pytest.mark.browser
TIMEDELTA_TEXT = re.compile(r"\d+ days?, \d+:\d\d:\d\d")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"

# page -> (url path, how many metric tiles and charts show once its content is in).
# A page other than the default comes first: a fresh server's first visit by direct URL is
# where a legacy pages/ folder used to bypass st.navigation (and with it login and filters).
PAGES = {
    "failures": ("failures", 0, 3),
    "overview": ("", 10, 4),
    "throttling": ("throttling", 4, 1),
    "health": ("health", 10, 1),
    "lookup": ("lookup", 6, 0),
    "send_test": ("send_test", 0, 0),
}


def _count(driver, css: str) -> int:
    return len(driver.find_elements("css selector", css))


def _loaded(driver, metrics: int, charts: int) -> bool:
    running = _count(driver, '[data-testid="stStatusWidget"] svg, [data-testid="stSkeleton"]')
    return (
        not running
        and _count(driver, '[data-testid="stMetricValue"]') >= metrics
        and _count(
            driver, '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
        )
        >= charts
        and _count(driver, "h1") >= 1
    )


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_with_real_content(page, browser, dashboard_url, seeded_sqlite):
    path, metrics, charts = PAGES[page]
    url = f"{dashboard_url}/{path}"
    if page == "lookup":
        with seeded_sqlite.engine.connect() as conn:
            sid = conn.execute(select(Report.sid).where(Report.status == "FAIL").limit(1)).scalar()
        url += f"?sid={sid}"
    browser.get(url)
    wait_until(lambda: _loaded(browser, metrics, charts), timeout=45, interval=0.25)
    assert _count(browser, '[data-testid="stException"]') == 0, browser.find_element(
        "css selector", '[data-testid="stException"]'
    ).text
    body = browser.find_element("tag name", "body").text
    assert "Traceback" not in body
    assert "Send test call" in body  # the app's navigation
    # The sidebar's range and filters only where the page applies them.
    filtered = page in ("overview", "failures", "throttling")
    assert ("Time range" in body) is filtered and ("Carrier" in body) is filtered
    if page == "send_test":
        assert "Check" in body and "Number" in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / f"{page}.png"))


def _truncated(driver, css: str) -> list[str]:
    """Texts of the elements matching `css` that are cut off (wider than their box)."""
    return driver.execute_script(
        """
        return [...document.querySelectorAll(arguments[0])]
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => e.innerText);
        """,
        css,
    )


def test_overview_tiles_are_not_cut_off_at_1400_px(browser, dashboard_url):
    browser.get(f"{dashboard_url}/")
    wait_until(lambda: _loaded(browser, 10, 4), timeout=45, interval=0.25)
    assert browser.get_window_size()["width"] == 1400
    labels = '[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div'
    assert _truncated(browser, labels) == []
    assert _truncated(browser, '[data-testid="stMetricValue"] div') == []
    body = browser.find_element("tag name", "body").text
    assert "Fees (credits)" in body
    assert not TIMEDELTA_TEXT.search(body)


def test_overview_tiles_are_not_cut_off_in_chinese_either(browser, dashboard_url):
    browser.get(f"{dashboard_url}/")
    browser.add_cookie({"name": COOKIE, "value": CHINESE})
    try:
        browser.refresh()
        wait_until(
            lambda: (
                _loaded(browser, 10, 4) and "概览" in browser.find_element("tag name", "h1").text
            ),
            timeout=45,
            interval=0.25,
        )
        labels = '[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div'
        assert _truncated(browser, labels) == []
        assert _truncated(browser, '[data-testid="stMetricValue"] div') == []
    finally:
        browser.delete_cookie(COOKIE)


def test_failures_heatmap_labels_every_category(browser, dashboard_url, seeded_sqlite):
    browser.get(f"{dashboard_url}/failures")
    wait_until(lambda: _loaded(browser, 0, 3), timeout=45, interval=0.25)
    body = browser.find_element("tag name", "body").text
    assert "user did not answer" in body  # reasons explained, by category
