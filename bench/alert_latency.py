"""Issue 15: time from a fault to its notification, per rule, with the default rules at the
demo's traffic rate (1 send/s) and the default evaluation interval (30 s).

The simulator (realistic 8-45 s call delays) and the ingest relay run in child processes;
this process runs synthetic users through the relay, the pull loop, the alert loop and a
local webhook receiving its messages. After a warm-up that fills the windows with normal
traffic, each fault is switched on (POST /_sim/faults), timed until its message arrives,
then switched off and the resolved message awaited before the next. Goal: a carrier outage
told within 2 minutes. `python -m bench --only alerts` times the carrier outage alone (~7 min);
`--large`, or `python -m bench.alert_latency [--rate 1] [--interval 30]`, every scenario."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from bench.harness import Result, fresh_dir, served
from bench.relay import serve_relay

APIKEY = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b"
GOAL_S = 120.0
# (name, fault, clear, words in the message), in the order they are tried.
SCENARIOS = [
    ("carrier outage", {"outage": {"carriers": ["China Mobile"]}}, {"clear": True}, "China Mobile"),
    ("Yunpian unreachable", {"unreachable": True}, {"unreachable": False}, "Yunpian unreachable"),
    ("balance exhausted", {"balance": 0}, {"balance": 10**12}, "balance"),
    ("pull failing (5xx)", {"pull": "5xx"}, {"pull": "normal"}, "Report pull is stale"),
    ("reports withheld", {"reports": "withheld"}, {"reports": "normal"}, "Reports missing"),
    ("apikey revoked (-1)", {"auth": "apikey"}, {"auth": "normal"}, "apikey, IP or signature"),
    ("quiet hours (-53)", {"quiet_hours": True}, {"quiet_hours": False}, "quiet hours"),
]


def serve_simulator(port: int) -> None:
    import uvicorn

    from ingest.simulator import SimulatorConfig, create_app

    config = SimulatorConfig(apikey=APIKEY, seed=15, quiet_hours=False, balance=10**12)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


class Inbox:
    """Messages a local webhook received, with their arrival time (monotonic)."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                text = f"{body.get('title', '')}\n{body.get('message', '')}"
                inbox.messages.append((time.monotonic(), text))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_port}/hook"

    def wait(self, since: float, words: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, text in list(self.messages):
                if at >= since and words.lower() in text.lower():
                    return at - since
            time.sleep(0.5)
        return None


def _background(relay_url: str, simulator_url: str, db_url: str, inbox: Inbox, args, stop) -> None:
    from ingest import pull
    from ingest.alerts.balance import fetch_balance
    from ingest.alerts.channels import Channels
    from ingest.alerts.loop import AlertLoop
    from ingest.alerts.rules import load_rules
    from ingest.settings import Secret
    from ingest.simulator.traffic import run_traffic
    from ingest.store.engine import make_engine
    from ingest.yunpian.client import VoiceClient

    engine = make_engine(db_url)
    client = VoiceClient(simulator_url, APIKEY, timeout=5.0)
    http = httpx.Client(timeout=5)
    loop = AlertLoop(
        engine,
        load_rules(),
        Channels([Secret(inbox.url)]),
        "http://127.0.0.1:8501",
        args.interval,
        balance=lambda: fetch_balance(http, simulator_url, Secret(APIKEY)),
    )
    for target, kwargs in (
        (
            run_traffic,
            {"args": (relay_url, APIKEY, args.rate), "kwargs": {"seed": 15, "stop_event": stop}},
        ),
        (
            pull.run,
            {
                "args": (client, engine),
                "kwargs": {"interval": 5.0, "stop": stop, "max_backoff": 30.0},
            },
        ),
        (loop.run, {"args": (stop,)}),
    ):
        threading.Thread(target=target, daemon=True, **kwargs).start()


def bench(size: int) -> list[Result]:
    """`python -m bench`: the first `size` scenarios with the default settings (1: the carrier
    outage, the one with a goal)."""
    return run(parse([]), SCENARIOS[:size])


def run(args: argparse.Namespace, scenarios: list = SCENARIOS) -> list[Result]:
    directory = fresh_dir("alert-latency")
    db_url = f"sqlite:///{directory / 'alerts.db'}"
    inbox, stop, results = Inbox(), threading.Event(), []
    with served(serve_simulator) as simulator, served(serve_relay, db_url, simulator) as relay:
        _background(relay, simulator, db_url, inbox, args, stop)
        print(f"  warming up {args.warmup:g} s at {args.rate:g} sends/s")
        time.sleep(args.warmup)
        for name, fault, clear, words in scenarios:
            started = time.monotonic()
            httpx.post(f"{simulator}/_sim/faults", json=fault)
            took = inbox.wait(started, words, args.timeout)
            httpx.post(f"{simulator}/_sim/faults", json=clear)
            cleared = time.monotonic()
            resolved = inbox.wait(cleared, "RESOLVED", args.timeout)
            print(f"  {name}: fired after {took}, resolved after {resolved} s")
            goal = GOAL_S if name == "carrier outage" else None
            results.append(
                Result(
                    f"15 Fault → notification: {name}",
                    f"{took:.0f} s" if took is not None else f"> {args.timeout:g} s",
                    f"resolved {resolved:.0f} s after clearing" if resolved else "not resolved",
                    None,
                    f"<= {GOAL_S:g} s" if goal else "",
                    (took is not None and took <= goal) if goal else None,
                    f"{args.rate:g}/s, interval {args.interval:g} s",
                )
            )
        stop.set()
    return results


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=1.0, help="sends per second (demo: 1)")
    parser.add_argument("--interval", type=float, default=30.0, help="alert evaluation interval")
    parser.add_argument(
        "--warmup", type=float, default=180.0, help="seconds of normal traffic first"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="give a scenario up after")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(parse()))
