"""`make run`'s history and its live traffic agree, so the default alert rules, which measure
the live traffic against the same hours on previous days, fire on nothing while the demo runs
normally. (Its seed used to be 1,500 sends a day against 86,400 live: fee_spike fired after
about 4 minutes, refusals_throttle after 7.5, hot_numbers after 9.)

The history is seeded as `voicewatch up` seeds it (its option defaults, `demo_traffic`, `seed`),
with changes for time: its live part spans one day and two hours instead of seven days and two
hours, the rules look back one day instead of seven (`baseline_days`), and the older history
before it is two days, not 30. That the seeded span covers what the
default rules look back at is checked on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random

from ingest.alerts.measure import measure
from ingest.alerts.rules import load_rules
from ingest.seed.history import seed
from ingest.seed.live import LiveTraffic
from ingest.settings import Settings
from ingest.simulator import ManualClock, SimulatorConfig, World
from ingest.simulator.traffic import SyntheticUsers
from ingest.store.engine import make_engine
from ingest.up import demo_traffic, up
from tests.ingest.alerts.test_false_alarms import APIKEY, run_traffic

# What the live traffic is measured on: the rules that read sends and reports (the others
# read the pull loop, the pushes and the account's balance, which do not run here).
TRAFFIC_KINDS = {"answer_rate", "reports_missing", "upstream_errors", "refusals"}
TRAFFIC_KINDS |= {"fee_spike", "hot_numbers"}
STARTUP = timedelta(seconds=90)  # the seed's end to the first live send, as `up` starts


def up_defaults() -> dict[str, object]:
    return {parameter.name: parameter.default for parameter in up.params}


def test_the_seeded_live_span_covers_what_the_default_rules_look_back_at():
    rules = load_rules()
    days = max(int(r.params.get("baseline_days", 0)) for r in rules)
    windows = max(r.window for r in rules if "baseline_days" in r.params)
    assert days == 7
    assert timedelta(hours=up_defaults()["seed_live_hours"]) == LiveTraffic(1.0).span
    assert LiveTraffic(1.0).span >= timedelta(days=days, seconds=max(windows, 3600))


def test_make_runs_seed_and_live_traffic_fire_no_default_rule(sqlite_url):
    # make run's database is SQLite; PostgreSQL stores the same rows (tests/ingest/test_seed.py).
    engine = make_engine(sqlite_url)
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in China, a Tuesday
    defaults = up_defaults()
    settings = Settings.from_env({}, env_file=None)
    live = demo_traffic(
        settings, defaults["traffic"], defaults["quiet_hours"], defaults["seed_live_hours"]
    )
    assert live is not None and live.rate_per_s == 1.0 and live.span == LiveTraffic.span
    seed(
        engine,
        days=2,  # for time: the older, lighter days lie outside every window the rules read
        per_day=defaults["seed_per_day"],
        now=now,
        progress=False,
        live=replace(live, span=timedelta(days=1, hours=2)),
    )
    rules = [
        replace(r, params={**r.params, "baseline_days": 1}) if "baseline_days" in r.params else r
        for r in load_rules()
        if r.kind in TRAFFIC_KINDS
    ]
    clock = ManualClock(now + STARTUP)
    quiet = bool(defaults["quiet_hours"])
    world = World(SimulatorConfig(apikey=APIKEY, seed=7, balance=10**9, quiet_hours=quiet), clock)
    fired: list[str] = []
    measured: dict[str, object] = {}

    def tick() -> None:
        with engine.connect() as connection:
            for rule in rules:
                for finding in measure(connection, rule, clock.now()):
                    measured[rule.name] = finding
                    if finding.breached:
                        fired.append(f"{clock.now() - now} {finding}")

    # 40 minutes: against the old seed, fee_spike fired after 4, hot_numbers after 9.
    stored = run_traffic(world, SyntheticUsers(Random(7)), engine, 40, tick=tick)
    engine.dispose()
    assert stored > 2000  # the traffic really ran
    assert fired == []
    # Measured against history, not silent for want of it.
    assert measured["fee_spike"].baseline > 1000
    assert measured["refusals_throttle"].baseline > 0
    assert measured["hot_numbers"].baseline > 100
    assert measured["answer_rate_drop"].sample > 40
