"""The simulator can attack: toll-fraud "pumping" traffic aimed at a relay (or the simulator
itself), switched on and off at runtime, off by default.

- `pumping`: bursts of codes to sequential numbers in a foreign premium-looking range
  (+232 76 12x xxx, Sierra Leone mobile), a new burst every few seconds;
- `flood`: one victim number called again and again;
- `bombing` (呼叫轰炸): a handful of victims' numbers called in turn, each again and again,
  as when a site's "call me with a code" button is abused to harass people.

Start it with `voicewatch simulate --attack pumping --attack-target http://127.0.0.1:8000`, or
while it runs: `curl -d scenario=pumping -d target=http://127.0.0.1:8000 .../_sim/attack`
(`scenario=off` stops it).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from random import Random

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.simulator.faults import LOOPBACK
from ingest.simulator.traffic import HEADERS, SEND_PATH, parse_rate

SCENARIOS = ("off", "pumping", "flood", "bombing")
PUMPED_RANGE = "+2327612"  # followed by 4 digits, counted up
VICTIM = "13800138000"
BOMBED = tuple(f"1860000{n:04d}" for n in range(6))  # China Unicom numbers
BURST = 20  # numbers in a row per pumping burst
ATTACK_APP = "attacker"  # what the attack says in X-Voicewatch-App


def attack_numbers(scenario: str, start: int = 0) -> Iterator[str]:
    """The numbers a scenario calls, in order (endless)."""
    if scenario == "flood":
        return itertools.repeat(VICTIM)
    if scenario == "bombing":
        return itertools.cycle(BOMBED)
    return (f"{PUMPED_RANGE}{n % 10000:04d}" for n in itertools.count(start))


@dataclass
class Attack:
    """The running attack, if any: one thread sending to `target` at `rate_per_s`."""

    apikey: str
    scenario: str = "off"
    target: str = ""
    rate_per_s: float = 2.0
    sent: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # by code, as the attacker saw them
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def switch(self, scenario: str, target: str, rate_per_s: float | None = None) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario {scenario!r}: expected one of {', '.join(SCENARIOS)}")
        self.stop()
        self.scenario, self.target = scenario, target.rstrip("/")
        self.rate_per_s = rate_per_s or self.rate_per_s
        if scenario != "off":
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="sim-attack", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        rng = Random()
        numbers = attack_numbers(self.scenario, rng.randrange(10000))
        headers = {**HEADERS, "X-Voicewatch-App": ATTACK_APP}
        with httpx.Client(base_url=self.target, headers=headers, timeout=10) as client:
            while not self._stop.wait(1 / self.rate_per_s):
                form = {
                    "apikey": self.apikey,
                    "mobile": next(numbers),
                    "code": f"{rng.randrange(10**6):06d}",
                }
                try:
                    code = client.post(SEND_PATH, data=form).json().get("code", 0)
                except (httpx.HTTPError, ValueError, AttributeError):
                    code = "failed"
                self.sent += 1
                self.answers[str(code)] = self.answers.get(str(code), 0) + 1

    def state(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "target": self.target,
            "rate_per_s": self.rate_per_s,
            "sent": self.sent,
            "answers": dict(self.answers),
        }


async def sim_attack(request: Request) -> Response:
    """POST scenario=off|pumping|flood|bombing [target=URL] [rate=2/s]: switch the attack;
    GET: its state."""
    attack: Attack = request.app.state.attack
    if request.method == "POST":
        if request.client is None or request.client.host not in LOOPBACK:
            return JSONResponse({"error": "attacks can be switched from this host only"}, 403)
        form = await request.form()
        own = str(request.base_url).rstrip("/")
        try:
            rate = parse_rate(str(form["rate"])) if form.get("rate") else None
            attack.switch(str(form.get("scenario", "off")), str(form.get("target") or own), rate)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse(attack.state())


ATTACK_ROUTES = [Route("/_sim/attack", sim_attack, methods=["GET", "POST"])]


def attack_once_up(simulator_url: str, scenario: str, target: str | None) -> threading.Thread:
    """Switch the attack on through `/_sim/attack` once the simulator answers (a thread)."""

    def switch_on() -> None:
        for _ in range(600):
            try:
                httpx.post(
                    f"{simulator_url}/_sim/attack",
                    data={"scenario": scenario, "target": target or simulator_url},
                )
                return
            except httpx.TransportError:
                threading.Event().wait(0.1)

    thread = threading.Thread(target=switch_on, name="sim-attack-start", daemon=True)
    thread.start()
    return thread
