"""Pages: every dashboard page opened cold by URL in a fresh headless-Chromium tab until the
app is idle, median of 3, against a trivial Streamlit app with the same navigation measured in
the same run (the floor Streamlit itself sets on this machine). Goals: each page within 1.5× the
trivial page at the large size, and at most 1.2× from the small size to the large one."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.data import generate
from bench.harness import Result, postgres
from bench.queries import sqlite_database
from ingest.store.engine import make_engine
from tests.servers import free_port

GOAL_RATIO = 1.5
GOAL_GROWTH = 1.2
REPEAT = 3
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
APP = Path(__file__).parents[1] / "dashboard" / "app.py"


@dataclass(frozen=True)
class Page:
    """A page by its URL path, and what shows once its content is in."""

    title: str
    path: str
    metrics: int = 0
    charts: int = 0


PAGES = (
    Page("Overview", ""),
    Page("Failures", "failures"),
    Page("Throttling", "throttling"),
    Page("Ingest health", "health"),
    Page("Lookup", "lookup"),
    Page("Send test call", "send_test"),
)

TRIVIAL_PAGE = """import streamlit as st
st.title({title!r})
st.metric("reports", 42)
"""
TRIVIAL_APP = """import streamlit as st
from pathlib import Path
here = Path(__file__).parent
pages = [{pages}]
st.navigation(pages).run()
"""


def trivial_app(folder: Path) -> Path:
    """A Streamlit app with the dashboard's navigation, each page a title and one metric."""
    entries = []
    for page in PAGES:
        name = page.path or "overview"
        (folder / f"{name}.py").write_text(TRIVIAL_PAGE.format(title=page.title))
        default = ", default=True" if not page.path else ""
        entries.append(f"st.Page(here / {name + '.py'!r}, title={page.title!r}{default})")
    app = folder / "app.py"
    app.write_text(TRIVIAL_APP.format(pages=", ".join(entries)))
    return app


@contextmanager
def streamlit(app: Path, env: dict[str, str]) -> Iterator[str]:
    """`app` served by Streamlit on a free loopback port, as `voicewatch dashboard` serves it."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {process.stderr.read()[-2000:]!r}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


@contextmanager
def chromium() -> Iterator[object]:
    """The headless Chromium the browser tests use."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="voicewatch-bench-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _count(driver, css: str) -> int:
    return len(driver.find_elements("css selector", css))


def _idle(driver, page: Page) -> bool:
    running = _count(driver, '[data-testid="stStatusWidget"] svg, [data-testid="stSkeleton"]')
    charts = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    return (
        not running
        and _count(driver, "h1") >= 1
        and _count(driver, '[data-testid="stMetricValue"]') >= page.metrics
        and _count(driver, charts) >= page.charts
    )


def open_cold(driver, url: str, done: Callable[[object], bool], timeout: float = 120) -> float:
    """Seconds from opening `url` in a fresh tab until `done(driver)`; the tab is then closed."""
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    started = time.perf_counter()
    driver.get(url)
    while not done(driver):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{url} not idle after {timeout} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    driver.close()
    driver.switch_to.window(first)
    return seconds


def settled(driver, url: str, quiet: float = 1.5) -> Page:
    """Open `url` and wait until the app has been idle for `quiet` seconds with the same
    content: what it shows then (metrics, charts) is what the measured runs wait for."""
    last, since = None, time.perf_counter()

    def done(d) -> bool:
        nonlocal last, since
        charts = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
        seen = (_count(d, '[data-testid="stMetricValue"]'), _count(d, charts))
        if seen != last or not _idle(d, Page("", "", 0, 0)):
            last, since = seen, time.perf_counter()
        return time.perf_counter() - since > quiet

    open_cold(driver, url, done)
    return Page("", "", *last)


def page_seconds(driver, base_url: str) -> dict[str, float]:
    """Median seconds per page title until it shows what it shows when settled."""
    medians = {}
    for page in PAGES:
        url = f"{base_url}/{page.path}"
        content = settled(driver, url)  # also the warm-up: first queries, caches
        runs = [open_cold(driver, url, lambda d, c=content: _idle(d, c)) for _ in range(REPEAT)]
        medians[page.title] = statistics.median(runs)
    return medians


def databases(sizes: tuple[int, int], with_postgres: bool) -> Iterator[tuple[str, int, str]]:
    """(backend, size, URL) for each size on SQLite, then on PostgreSQL when it is there."""
    for size in sizes:
        yield "sqlite", size, sqlite_database(size)[0]
    if not with_postgres:
        return
    with postgres() as server:
        if server is None:
            return
        for size in sizes:
            url = server.create_database()
            engine = make_engine(url)
            generate(engine, size)
            engine.dispose()
            yield "postgresql", size, url


def run(large_size: int, small_size: int | None = None) -> list[Result]:
    """Every page at `small_size` and `large_size` reports on both databases."""
    small_size = small_size or max(large_size // 10, 10_000)
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return [Result("Pages", "—", "—", None, "", None, "Chromium is not installed")]
    measured: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder, chromium() as driver:
        with streamlit(trivial_app(Path(folder)), {}) as url:
            floor = page_seconds(driver, url)
        for backend, size, db_url in databases((small_size, large_size), with_postgres=True):
            env = {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "bench"}
            env |= {"VOICEWATCH_DASHBOARD_PASSWORD": "", "VOICEWATCH_UNMASK_PASSWORD": ""}
            with streamlit(APP, env) as url:
                measured[(backend, size)] = page_seconds(driver, url)
            print(
                f"  {backend} {size:,}: "
                + ", ".join(f"{t} {s:.2f} s" for t, s in measured[(backend, size)].items()),
                flush=True,
            )
    print("  trivial page: " + ", ".join(f"{t} {s:.2f} s" for t, s in floor.items()))
    return judge(floor, measured, small_size, large_size)


def judge(
    floor: dict[str, float],
    measured: dict[tuple[str, int], dict[str, float]],
    small_size: int,
    large_size: int,
) -> list[Result]:
    results = []
    for (backend, size), seconds in measured.items():
        if size != large_size:
            continue
        small = measured.get((backend, small_size), {})
        for title, value in seconds.items():
            ratio = value / floor[title]
            results.append(
                Result(
                    f"7 Page {title}, {backend}, {size:,} reports",
                    f"{value:.2f} s",
                    f"{floor[title]:.2f} s trivial",
                    ratio,
                    f"≤ {GOAL_RATIO:g}×",
                    ratio <= GOAL_RATIO,
                )
            )
            if title in small:
                growth = value / small[title]
                results.append(
                    Result(
                        f"7 Page {title} growth, {backend}, {size:,} vs {small_size:,}",
                        f"{value:.2f} s",
                        f"{small[title]:.2f} s",
                        growth,
                        f"≤ {GOAL_GROWTH:g}×",
                        growth <= GOAL_GROWTH,
                    )
                )
    return results


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(10_000_000 if "--large" in sys.argv else 1_000_000))
