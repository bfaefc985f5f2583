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

from bench import figures
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
# The pages that show a chart when opened: also compared with the trivial page with one chart.
CHART_PAGES = {"Overview", "Failures", "Throttling", "Ingest health"}

TRIVIAL_PAGE = """import streamlit as st
st.title({title!r})
st.metric("reports", 42)
if {lookup!r}:
    found = st.text_input("Number or sid", key="lookup_input") or st.query_params.get("sid")
    if found:
        st.subheader(found)
st.caption(f"{{st.session_state.get('range')}} {{st.session_state.get('carriers')}}")
"""
# The trivial page and one Altair line chart of 240 hourly points in 3 series (the size of
# the Overview's charts over 10 days): what the first chart on a page costs in a fresh tab,
# Vega's own start included. Context for the goal, measured in the same run.
CHART_FLOOR = Page("Trivial page + one chart", "chart_floor", metrics=1, charts=1)
CHART_FLOOR_PAGE = """import altair as alt
import pandas as pd
import streamlit as st
st.title("Chart floor")
st.metric("reports", 42)
hours = pd.date_range("2026-11-01", periods=240, freq="h")
data = pd.DataFrame({"t": hours.repeat(3), "c": ["a", "b", "c"] * 240,
                     "v": [(i * 37 % 100) / 100 for i in range(720)]})
st.altair_chart(alt.Chart(data).mark_line().encode(x="t:T", y="v:Q", color="c:N"))
"""
# The dashboard's navigation and sidebar pickers, so that its interactions can be measured
# against the same interactions here.
TRIVIAL_APP = """import streamlit as st
from pathlib import Path
here = Path(__file__).parent
pages = [{pages}]
page = st.navigation(pages)
with st.sidebar:
    st.selectbox("Time range", ["Last hour", "Last 24 h", "Last 7 days", "Last 30 days"],
                 index=1, key="range")
    st.multiselect("Carrier", ["China Mobile", "China Telecom", "China Unicom"], key="carriers")
page.run()
"""


def trivial_app(folder: Path) -> Path:
    """A Streamlit app with the dashboard's navigation, each page a title and one metric."""
    entries = []
    for page in PAGES:
        name = page.path or "overview"
        lookup = page.path == "lookup"
        (folder / f"{name}.py").write_text(TRIVIAL_PAGE.format(title=page.title, lookup=lookup))
        default = ", default=True" if not page.path else ""
        entries.append(f"st.Page(here / {name + '.py'!r}, title={page.title!r}{default})")
    (folder / f"{CHART_FLOOR.path}.py").write_text(CHART_FLOOR_PAGE)
    entries.append(f"st.Page(here / {CHART_FLOOR.path + '.py'!r}, title={CHART_FLOOR.title!r})")
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


def chart_floor_seconds(driver, base_url: str) -> float:
    """Median seconds of the trivial app's page with one chart, after a warm-up."""
    url = f"{base_url}/{CHART_FLOOR.path}"
    runs = [open_cold(driver, url, lambda d: _idle(d, CHART_FLOOR)) for _ in range(REPEAT + 1)]
    return statistics.median(runs[1:])


def page_seconds(driver, base_url: str) -> dict[str, float]:
    """Median seconds per page title until it shows what it shows when settled."""
    medians = {}
    for page in PAGES:
        url = f"{base_url}/{page.path}"
        content = settled(driver, url)  # also the warm-up: first queries, caches
        runs = [open_cold(driver, url, lambda d, c=content: _idle(d, c)) for _ in range(REPEAT)]
        medians[page.title] = statistics.median(runs)
    return medians


MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
READY = f'{SIDEBAR} [data-testid="stMultiSelect"] input'  # the sidebar's pickers are in
LOOKUP_BOX = 'input[aria-label="Number or sid"]'  # Lookup has no pickers in its sidebar


@dataclass(frozen=True)
class Interaction:
    """What a user does on a page already shown: `act(driver, sample)` with `sample` = (a
    stored number, a stored sid)."""

    title: str
    path: str
    act: Callable[[object, tuple[str, str]], None]
    ready: str = READY  # what is there once the page can be acted on


def _pick(driver, key: str, option: str) -> None:
    """Pick `option` in the sidebar widget of `key` (Streamlit marks it `st-key-<key>`; the
    sidebar has other pickers, the language first)."""
    driver.find_element("css selector", f"{SIDEBAR} .st-key-{key} input").click()
    xpath = f'//*[@role="option"][contains(normalize-space(.), "{option}")]'
    _wait(driver, lambda d: d.find_elements("xpath", xpath), 10)
    driver.find_element("xpath", xpath).click()


def _type_number(driver, sample: tuple[str, str]) -> None:
    from selenium.webdriver.common.keys import Keys

    _wait(driver, lambda d: d.find_elements("css selector", LOOKUP_BOX), 30)
    box = driver.find_element("css selector", LOOKUP_BOX)
    box.send_keys(sample[0] + Keys.ENTER)


def _last_30_days(driver, _sample: tuple[str, str]) -> None:
    _pick(driver, "range", "Last 30 days")


INTERACTIONS = (
    Interaction("Range → 30 days", "", _last_30_days),  # on the Overview
    Interaction("Failures: range → 30 days", "failures", _last_30_days),
    Interaction("Throttling: range → 30 days", "throttling", _last_30_days),
    Interaction("+ carrier filter", "", lambda d, _: _pick(d, "carriers", "China Mobile")),
    Interaction("Look up a number", "lookup", _type_number, ready=LOOKUP_BOX),
)


def _wait(driver, done: Callable[[object], object], timeout: float) -> None:
    started = time.perf_counter()
    while not done(driver):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"not done after {timeout} s")
        time.sleep(0.02)


def _main_text(driver) -> str:
    return driver.execute_script(
        f"const main = document.querySelector('{MAIN}'); return main ? main.innerText : '';"
    )


def interaction_seconds(driver, base_url: str, sample: tuple[str, str]) -> dict[str, float]:
    """Median seconds per interaction, from the action until the page's main area has changed
    and the app is idle; and "Open a call from Failures": a fresh tab on the Lookup page with
    the call's sid in the URL, which is where picking a row on Failures leads."""
    medians = {}
    quiet = Page("", "", 0, 0)
    for interaction in INTERACTIONS:
        url = f"{base_url}/{interaction.path}"
        content = settled(driver, url)  # also the warm-up
        runs = []
        for _ in range(REPEAT):
            driver.switch_to.new_window("tab")
            driver.get(url)
            ready = interaction.ready
            _wait(driver, lambda d, c=content, r=ready: _idle(d, c) and _count(d, r), 120)
            before = _main_text(driver)
            started = time.perf_counter()
            interaction.act(driver, sample)
            _wait(driver, lambda d, b=before: _main_text(d) != b and _idle(d, quiet), 120)
            runs.append(time.perf_counter() - started)
            driver.close()
            driver.switch_to.window(driver.window_handles[0])
        medians[interaction.title] = statistics.median(runs)
    url = f"{base_url}/lookup?sid={sample[1]}"
    shown = lambda d: _idle(d, quiet) and _count(d, "h3") >= 1  # noqa: E731
    open_cold(driver, url, shown)
    runs = [open_cold(driver, url, shown) for _ in range(REPEAT)]
    medians["Open a call from Failures"] = statistics.median(runs)
    return medians


def sample_call(db_url: str) -> tuple[str, str]:
    """The newest accepted send's number and sid."""
    from sqlalchemy import select

    from ingest.store.models import Send

    engine = make_engine(db_url, migrate=False)
    with engine.connect() as connection:
        row = connection.execute(
            select(Send.mobile, Send.sid).where(Send.sid.is_not(None)).order_by(Send.id.desc())
        ).first()
    engine.dispose()
    return row[0], row[1]


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
    checked: list[Result] = []
    with tempfile.TemporaryDirectory() as folder, chromium() as driver:
        with streamlit(trivial_app(Path(folder)), {}) as url:
            floor = page_seconds(driver, url)
            floor[CHART_FLOOR.title] = chart_floor_seconds(driver, url)
            floor |= interaction_seconds(driver, url, ("15205201314", "0" * 32))
        for backend, size, db_url in databases((small_size, large_size), with_postgres=True):
            env = {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "bench"}
            env |= {"VOICEWATCH_DASHBOARD_PASSWORD": "", "VOICEWATCH_UNMASK_PASSWORD": ""}
            with streamlit(APP, env) as url:
                measured[(backend, size)] = page_seconds(driver, url)
                measured[(backend, size)] |= interaction_seconds(driver, url, sample_call(db_url))
            print(
                f"  {backend} {size:,}: "
                + ", ".join(f"{t} {s:.2f} s" for t, s in measured[(backend, size)].items()),
                flush=True,
            )
            checked.append(figures_result(backend, size, db_url))
    print("  trivial page: " + ", ".join(f"{t} {s:.2f} s" for t, s in floor.items()))
    return judge(floor, measured, small_size, large_size) + checked


def figures_result(backend: str, size: int, db_url: str) -> Result:
    """The timed pages' figures against the raw tables of the same database."""
    wrong = figures.mismatches(db_url, figures.data_end(db_url))
    return Result(
        f"7 Figures equal the raw tables, {backend}, {size:,} reports",
        "equal" if not wrong else f"{len(wrong)} differ",
        "raw aggregates",
        None,
        "all equal",
        not wrong,
        "; ".join(wrong)[:300],
    )


def judge(
    floor: dict[str, float],
    measured: dict[tuple[str, int], dict[str, float]],
    small_size: int,
    large_size: int,
) -> list[Result]:
    chart_floor = floor[CHART_FLOOR.title]
    results = [
        Result(
            "7 Floor: the trivial page with one Altair chart",
            f"{chart_floor:.2f} s",
            f"{floor['Overview']:.2f} s trivial",
            chart_floor / floor["Overview"],
            "context",
            None,
        )
    ]
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
            if title in CHART_PAGES:
                results.append(
                    Result(
                        f"7 Page {title} vs the one-chart floor, {backend}, {size:,} reports",
                        f"{value:.2f} s",
                        f"{chart_floor:.2f} s one chart",
                        value / chart_floor,
                        "context",
                        None,
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
