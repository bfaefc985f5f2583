"""The Guard page in real headless Chromium over a day of guarded traffic with two attacks;
its screenshot is the README's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from ingest.guard.config import load_config
from ingest.guard.lists import add_entry
from ingest.guard.live import Guard
from ingest.simulator.attack import attack_numbers
from ingest.simulator.traffic import SyntheticUsers
from ingest.store.engine import make_engine
from tests.dashboard.test_browser import SCREENSHOTS, _count, _loaded
from tests.fixtures.browser import served_dashboard
from tests.ingest.guard.support import velocity_rules
from tests.servers import wait_until

pytestmark = pytest.mark.browser


def guarded_day(url: str, rules: str) -> None:
    """A day of synthetic users through the velocity rules enforced, two pumping bursts and a
    flood."""
    engine = make_engine(url)
    guard = Guard(engine, load_config(rules))
    add_entry(engine, "allow", "13900139000", "support", "dashboard", "QA phone")
    add_entry(engine, "block", "+88216*", "support", "file", "satellite range")
    start = datetime.now(UTC) - timedelta(hours=23)
    users, arrivals, at = SyntheticUsers(Random(3)), Random(4), 0.0
    while at < 23 * 3600:
        mobile, _code = users.next_send(at)
        guard.decide_now(mobile, "shop", start + timedelta(seconds=at))
        at += arrivals.expovariate(1500 / 86400)
    for hour, scenario, count in ((6, "pumping", 60), (15, "flood", 25), (19, "pumping", 40)):
        numbers = attack_numbers(scenario, hour * 100)
        for n in range(count):
            guard.decide_now(
                next(numbers), "attacker", start + timedelta(hours=hour, seconds=5 * n)
            )
    guard.recorder.flush()
    engine.dispose()


@pytest.fixture(scope="module")
def guard_dashboard(tmp_path_factory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("guard")
    url = f"sqlite:///{directory / 'voicewatch.db'}"
    guarded_day(url, velocity_rules(directory))
    env = {"VOICEWATCH_DB": url, "VOICEWATCH_DASHBOARD_PASSWORD": "", "VOICEWATCH_LANG": "en"}
    with served_dashboard(env) as base:
        yield base


def test_guard_page_shows_the_attacks_blocked(browser, guard_dashboard):
    browser.get(f"{guard_dashboard}/guard")
    wait_until(lambda: _loaded(browser, 4, 1), timeout=45, interval=0.25)
    assert _count(browser, '[data-testid="stException"]') == 0
    body = browser.find_element("tag name", "body").text
    assert "Decisions over time, by rule and mode" in body and "Allow and block lists" in body
    tiles = [e.text for e in browser.find_elements("css selector", '[data-testid="stMetricValue"]')]
    checked, blocked = (int(t.replace(",", "")) for t in tiles[:2])
    assert checked > 1000 and blocked >= 100  # both pumping bursts and the flood, past the limits
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "guard.png"))
