"""Issue 18, the other side of the dashboard's speed: the relay under 50 parallel callers
(p50/p99 latency it adds over calling the simulator directly, the same 50 callers) and pushes
while the dashboard is in use (reports/s stored with a browser reloading dashboard pages over
the same SQLite file, against the same pushes with no one looking).

No goal is set for these rows in the issue; they are printed as context ("info") so that a
speed-up on one side that slows the other shows up in the same table."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
from tqdm import tqdm

from bench.data import numbers
from bench.harness import Result, fresh_dir, served
from bench.pull_ingest import APIKEY
from bench.push_ingest import BATCH, make_reports, prepare, push_all, push_body, serve_ingest
from bench.relay import serve_relay, serve_simulator

CALLERS = 50


async def _parallel_sends(
    url: str, sends: int, offset: int, label: str, unknown: list[str]
) -> list[float]:
    """Milliseconds of `sends` sends by CALLERS callers at once, each send a new number and
    code (never throttled); the relay's unknown-outcome answers (HTTP 202) go to `unknown`."""
    mobiles = [row[1] for row in numbers()]
    latencies: list[float] = []
    bar = tqdm(total=sends, desc=label, unit="send")
    limits = httpx.Limits(max_connections=CALLERS, max_keepalive_connections=CALLERS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def caller(index: int) -> None:
            for i in range(index, sends, CALLERS):
                form = {
                    "apikey": APIKEY,
                    "mobile": mobiles[(offset + i) % len(mobiles)],
                    "code": f"{200000 + offset + i}",
                }
                started = time.perf_counter()
                answer = await http.post(f"{url}/v2/voice/send.json", data=form)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code == 202:
                    unknown.append(answer.text[:300])
                elif answer.status_code != 200:
                    raise RuntimeError(
                        f"{label} send refused: {answer.status_code} {answer.text[:300]}"
                    )
                bar.update(1)

        await asyncio.gather(*(caller(c) for c in range(CALLERS)))
    bar.close()
    return latencies[CALLERS:]  # the first round opens the connections


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def relay_rows(sends: int) -> list[Result]:
    """p50 and p99 added by the relay at CALLERS parallel callers, direct and relayed
    interleaved in two rounds; distinct numbers throughout (below 5 000 sends in all)."""
    directory = fresh_dir("relay-parallel")
    direct: list[float] = []
    relayed: list[float] = []
    unknown: list[str] = []
    relay_db = f"sqlite:///{directory / 'relay.db'}"
    with (
        served(serve_simulator) as simulator,
        served(serve_relay, relay_db, simulator) as relay,
    ):
        half = sends // 2
        for round_ in range(2):
            first, second = 4 * round_ * half, (4 * round_ + 2) * half
            direct += asyncio.run(_parallel_sends(simulator, half, first, "direct", unknown))
            relayed += asyncio.run(_parallel_sends(relay, half, second, "relayed", unknown))
    if unknown:
        print(f"  {len(unknown)} sends answered 'outcome unknown', e.g. {unknown[0]}")
    rows = []
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        d, r = _p(direct, share), _p(relayed, share)
        print(f"  {name}: direct {d:.1f} ms, through the relay {r:.1f} ms")
        rows.append(
            Result(
                f"8 Relay added latency {name}, {CALLERS} parallel callers",
                f"{r - d:.1f} ms",
                f"{d:.1f} ms direct",
                r / d,
                "context",
                None,
                f"{len(unknown)} of {len(relayed)} outcome unknown" if unknown else "",
            )
        )
    return rows


def _browse(dashboard_url: str, stop: threading.Event, loads: list[float]) -> None:
    """Open dashboard pages one after another in fresh tabs until `stop`."""
    from bench.pages import PAGES, _idle, chromium, open_cold, settled

    with chromium() as driver:
        content = {p.path: settled(driver, f"{dashboard_url}/{p.path}") for p in PAGES[:4]}
        while not stop.is_set():
            for path, seen in content.items():
                if stop.is_set():
                    break
                url = f"{dashboard_url}/{path}"
                loads.append(open_cold(driver, url, lambda d, c=seen: _idle(d, c)))


def push_while_browsing_rows(count: int) -> list[Result]:
    """Reports/s pushed into one SQLite file alone, then while a browser loads dashboard
    pages over it."""
    from bench.pages import APP, streamlit

    reports = make_reports(2 * count)
    directory = fresh_dir("push-browsing")
    db_url = f"sqlite:///{directory / 'service.db'}"
    prepare(db_url, reports)
    first = [push_body(reports[i : i + BATCH]) for i in range(0, count, BATCH)]
    second = [push_body(reports[i : i + BATCH]) for i in range(count, 2 * count, BATCH)]
    env = {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "bench"}
    env |= {"VOICEWATCH_DASHBOARD_PASSWORD": "", "VOICEWATCH_UNMASK_PASSWORD": ""}
    loads: list[float] = []
    with served(serve_ingest, db_url) as ingest_url:
        alone = asyncio.run(push_all(ingest_url, first))
        with streamlit(APP, env) as dashboard_url:
            stop = threading.Event()
            browser = threading.Thread(target=_browse, args=(dashboard_url, stop, loads))
            browser.start()
            while not loads and browser.is_alive():  # pages settled: the browser is at work
                time.sleep(0.2)
            browsing = asyncio.run(push_all(ingest_url, second))
            stop.set()
            browser.join(300)
    page = f"{statistics.median(loads):.2f} s median page" if loads else "no page loaded"
    print(f"  pushes alone {alone:.2f} s, while browsing {browsing:.2f} s ({page})")
    return [
        Result(
            f"8 Push ingest while the dashboard is in use, {count:,} reports",
            f"{count / browsing:,.0f} reports/s",
            f"{count / alone:,.0f} reports/s alone",
            alone / browsing,
            "context",
            None,
            page,
        )
    ]


def run(sends: int) -> list[Result]:
    """The relay row at `sends` sends, the push row at 20 × `sends` reports."""
    return relay_rows(sends) + push_while_browsing_rows(20 * sends)


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(1400 if "--large" in sys.argv else 1000))
