"""The Alerts page in headless Chromium, with an hour of alert history behind a carrier
outage that is firing now; its screenshot is the README's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ingest.alerts.channels import Channels
from ingest.alerts.loop import AlertLoop
from ingest.store.engine import make_engine
from tests.dashboard.test_browser import SCREENSHOTS, _count
from tests.fixtures.browser import served_dashboard
from tests.ingest.alerts.support import add_calls, default_rule
from tests.servers import wait_until

pytestmark = pytest.mark.browser


def alert_history(url: str) -> None:
    """An hour of evaluations every 2 minutes; China Mobile goes down 16 minutes ago."""
    engine = make_engine(url)
    rules = [
        replace(default_rule("answer_rate_drop"), window=120, min_sample=20),
        default_rule("answer_rate_drop_carrier"),
    ]
    now = datetime.now(UTC)
    for step in range(30, -1, -1):
        at = now - timedelta(minutes=2 * step)
        down = step <= 8
        add_calls(
            engine, at - timedelta(seconds=100), 40, 3 if down else 34, carrier="China Mobile"
        )
        add_calls(engine, at - timedelta(seconds=100), 30, 24, carrier="China Unicom")
        AlertLoop(engine, rules, Channels([]), "http://dash", clock=lambda at=at: at).tick()
    engine.dispose()


@pytest.fixture
def alerts_dashboard(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    alert_history(url)
    env = {
        "VOICEWATCH_DB": url,
        "VOICEWATCH_DASHBOARD_PASSWORD": "",
        "VOICEWATCH_UNMASK_PASSWORD": "",
        "VOICEWATCH_ALERT_URLS": "dingtalk://SEC0123abcd@0123456789abcdef/ json://hooks.example.com/oncall",
    }
    with served_dashboard(env) as base:
        yield base


def test_alerts_page_shows_the_firing_outage_with_its_chart(browser, alerts_dashboard):
    browser.get(f"{alerts_dashboard}/alerts")
    chart = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    wait_until(lambda: _count(browser, chart) >= 2, timeout=45, interval=0.25)
    # The channels come last, after Apprise has loaded: wait for them, not only the charts.
    text = lambda: browser.find_element("tag name", "body").text  # noqa: E731
    wait_until(lambda: "dingtalk://" in text(), timeout=45, interval=0.25)
    body = text()
    assert "Answer rate dropped for a carrier" in body and "carrier: China Mobile" in body
    assert "dingtalk://***" in body and "SEC0123abcd" not in body
    assert _count(browser, '[data-testid="stException"]') == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "alerts.png"))
