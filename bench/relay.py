"""Target 5: the median latency the relay adds to a send (POST /v2/voice/send.json through
the ingest service, which also records the send) over calling the simulator directly."""

from __future__ import annotations

import statistics
import time

import httpx
from tqdm import tqdm

from bench.data import numbers
from bench.harness import Result, fresh_dir, served
from bench.pull_ingest import APIKEY

GOAL_MS = 5.0


def serve_simulator(port: int) -> None:
    import uvicorn

    from ingest.simulator import SimulatorConfig, create_app

    config = SimulatorConfig(apikey=APIKEY, seed=9, quiet_hours=False, balance=10**12)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


def serve_relay(port: int, db_url: str, voice_url: str) -> None:
    import uvicorn

    from ingest.service.app import create_app
    from ingest.settings import Settings
    from ingest.store.engine import make_engine

    settings = Settings.from_env(
        {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "bench", "YUNPIAN_VOICE_URL": voice_url},
        env_file=None,
    )
    app = create_app(settings, make_engine(db_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def latencies(url: str, count: int, offset: int, label: str) -> list[float]:
    """Milliseconds of `count` sequential sends, each a new code (never throttled)."""
    mobiles = [row[1] for row in numbers()]
    times = []
    with httpx.Client(timeout=30) as http:
        for i in tqdm(range(count), desc=label, unit="send"):
            form = {
                "apikey": APIKEY,
                "mobile": mobiles[(offset + i) % len(mobiles)],
                "code": f"{100000 + offset + i}",
            }
            started = time.perf_counter()
            answer = http.post(f"{url}/v2/voice/send.json", data=form)
            times.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{label} send refused: {answer.status_code} {answer.text}")
    return times[count // 10 :]  # the first tenth warms connections and caches


def run(count: int) -> list[Result]:
    directory = fresh_dir("relay")
    with served(serve_simulator) as simulator:
        relay = served(serve_relay, f"sqlite:///{directory / 'relay.db'}", simulator)
        with relay as relay_url:
            direct: list[float] = []
            relayed: list[float] = []
            for round_ in range(4):  # interleaved, so drift hits both alike
                half = count // 4
                direct += latencies(simulator, half, 2 * round_ * half, "direct")
                relayed += latencies(relay_url, half, (2 * round_ + 1) * half, "relayed")
    direct_ms, relayed_ms = statistics.median(direct), statistics.median(relayed)
    added = relayed_ms - direct_ms
    print(f"  median direct {direct_ms:.2f} ms, through the relay {relayed_ms:.2f} ms")
    return [
        Result(
            f"5 Relay added latency, median of {len(relayed)} sends",
            f"{added:.2f} ms",
            f"{direct_ms:.2f} ms direct",
            relayed_ms / direct_ms,
            f"< {GOAL_MS:g} ms added",
            added < GOAL_MS,
        )
    ]


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(1000 if "--large" in sys.argv else 300))
