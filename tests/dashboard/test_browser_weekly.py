"""The weekly review in real headless Chromium: a product manager picks "Last 7 days" over
three weeks of history and reads the week-over-week comparison; its screenshot is the
README's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.seed.history import seed
from ingest.store.engine import make_engine
from tests.dashboard.test_browser import SCREENSHOTS, _loaded
from tests.fixtures.browser import served_dashboard
from tests.servers import wait_until

pytestmark = pytest.mark.browser
COMPARISON = "Compared with the previous period"


@pytest.fixture(scope="module")
def three_weeks(tmp_path_factory) -> Iterator[str]:
    """The dashboard over 15 days of seeded history: a week, and a whole week before it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('weekly') / 'voicewatch.db'}"
    engine = make_engine(url)
    seed(engine, days=15, per_day=150, seed=11, progress=False)
    engine.dispose()
    env = {"VOICEWATCH_DB": url, "VOICEWATCH_DASHBOARD_PASSWORD": "", "VOICEWATCH_LANG": "en"}
    with served_dashboard(env) as base:
        yield base


def pick(browser, label: str, option: str) -> None:
    """Choose `option` in the select box `label`, as a user does: open it, click the option."""
    field = browser.find_element("css selector", f'input[role="combobox"][aria-label="{label}"]')
    field.find_element("xpath", "following-sibling::button[@aria-label='Open']").click()
    choice = f"//*[@role='option'][normalize-space()='{option}']"
    wait_until(lambda: browser.find_elements("xpath", choice), timeout=10)
    browser.find_element("xpath", choice).click()
    wait_until(lambda: field.get_attribute("value") == option, timeout=10)


def test_last_7_days_compares_week_over_week(browser, three_weeks):
    browser.get(f"{three_weeks}/")
    wait_until(lambda: _loaded(browser, 10, 4), timeout=45, interval=0.25)
    pick(browser, "Time range", "Last 7 days")
    body = lambda: browser.find_element("tag name", "body").text  # noqa: E731
    wait_until(lambda: COMPARISON in body() and _loaded(browser, 10, 4), timeout=45)
    text = body()
    assert "changes compare with" in text and "no comparable data" not in text
    assert "significant" in text  # the table says which changes are more than chance
    heading = browser.find_element("xpath", f"//h3[normalize-space()='{COMPARISON}']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", heading)
    wait_until(lambda: _loaded(browser, 10, 4), timeout=20, interval=0.25)
    assert browser.save_screenshot(str(SCREENSHOTS / "overview_week.png"))
