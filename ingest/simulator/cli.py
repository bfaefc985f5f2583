"""`voicewatch simulate` / `python -m ingest.simulator`: serve the simulator, optionally with traffic."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import click
import uvicorn

from ingest.i18n import N_, cli_language
from ingest.simulator.app import create_app
from ingest.simulator.attack import SCENARIOS, attack_once_up
from ingest.simulator.clock import Clock
from ingest.simulator.config import DEMO_APIKEY, SimulatorConfig
from ingest.simulator.faults import AUTH_MODES, PULL_MODES, REPORT_MODES, Incidents
from ingest.simulator.traffic import parse_rate, run_traffic


@dataclass(frozen=True)
class TrafficPlan:
    """Synthetic users to run against the simulator while it serves."""

    rate_per_s: float
    callback_url: str | None = None


def masked_apikey(apikey: str) -> str:
    """`abcd…(32 chars)`: enough to tell keys apart, never the key."""
    return f"{apikey[:4]}…({len(apikey)} chars)"


def run_simulator(
    config: SimulatorConfig,
    host: str = "127.0.0.1",
    port: int = 8800,
    traffic: TrafficPlan | None = None,
    clock: Clock | None = None,
    incidents: Incidents | None = None,
) -> None:
    """Serve the simulator with uvicorn until interrupted; with `traffic`, synthetic users
    send to it from a background thread once it is up. `incidents` are in force from the
    start and can be changed with POST /_sim/faults."""
    app = create_app(config, clock, incidents)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    stop = threading.Event()
    users = None
    if traffic:
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{local}:{port}"
        users = threading.Thread(
            target=_traffic_once_up, args=(server, url, config, traffic, stop), daemon=True
        )
        users.start()
    try:
        server.run()
    finally:
        stop.set()
        if users:
            users.join(timeout=15)


def _traffic_once_up(
    server: uvicorn.Server,
    url: str,
    config: SimulatorConfig,
    traffic: TrafficPlan,
    stop: threading.Event,
) -> None:
    while not server.started:
        if stop.wait(0.05):
            return
    run_traffic(
        url,
        config.apikey,
        traffic.rate_per_s,
        traffic.callback_url,
        seed=config.seed,
        stop_event=stop,
    )


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_rate(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _share(help_text: str) -> dict[str, object]:
    return {"type": click.FloatRange(0, 1), "default": 0.0, "show_default": True, "help": help_text}


@click.command(
    help=N_(
        "Serve a simulated Yunpian voice API (send, pull_status, tpl_notify, user/get, push).\n\n"
        "Incidents (outages, withheld reports, a stalled pull, an unreachable API, refused auth, "
        "quiet hours, rate limiting, the fee and the balance) can be switched while it runs: "
        "POST /_sim/faults from this host, e.g. curl -d "
        '\'{"outage": {"carriers": ["China Mobile"]}}\' http://127.0.0.1:8800/_sim/faults'
    )
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8800, show_default=True, type=int)
@click.option(
    "--apikey",
    envvar="YUNPIAN_APIKEY",
    default=DEMO_APIKEY,
    help=N_("the account's 32-char apikey [env YUNPIAN_APIKEY; default: voicewatch's demo key]"),
)
@click.option("--balance", default=10_000.0, show_default=True, type=float)
@click.option("--fee", default=1.0, show_default=True, type=float, help=N_("charged per call"))
@click.option("--seed", type=int, help=N_("make outcomes, sids and faults repeatable"))
@click.option(
    "--call-delay",
    type=float,
    metavar="SECONDS",
    help=N_("send -> report delay [default: realistic, random 8-45 s]"),
)
@click.option("--no-quiet-hours", is_flag=True, help=N_("call domestic numbers 22:00-07:30 too"))
@click.option("--push-url", help=N_("account-wide push address for reports"))
@click.option(
    "--traffic", callback=_rate, metavar="RATE", help=N_("synthetic sends, e.g. 2/s or 30/m")
)
@click.option(
    "--traffic-callback", metavar="URL", help=N_("callback_url the synthetic sends carry")
)
@click.option("--fault-5xx", **_share(N_("share of API requests answered 500")))
@click.option(
    "--fault-latency", default=0.0, type=float, metavar="SECONDS", help=N_("added to answers")
)
@click.option("--fault-malformed", **_share(N_("share of API answers cut to non-JSON")))
@click.option("--fault-drop-push", **_share(N_("share of pushes silently not sent")))
@click.option("--fault-duplicate-push", **_share(N_("share of pushed reports pushed again")))
@click.option("--fault-reorder", **_share(N_("share of pushes and pull pages shuffled")))
@click.option(
    "--limit-per-hour",
    type=click.IntRange(min=1),
    envvar="VOICEWATCH_LIMIT_PER_HOUR",
    help=N_("sends to one number per hour before code 22 [VOICEWATCH_LIMIT_PER_HOUR; none]"),
)
@click.option(
    "--limit-per-day",
    type=click.IntRange(min=1),
    envvar="VOICEWATCH_LIMIT_PER_DAY",
    help=N_("sends to one number per 24 h before code 17 [VOICEWATCH_LIMIT_PER_DAY; none]"),
)
@click.option(
    "--attack",
    type=click.Choice(SCENARIOS[1:]),
    help=N_("start an attack: pumping, flood or bombing (off by default)"),
)
@click.option(
    "--attack-target", metavar="URL", help=N_("where the attack sends [the simulator itself]")
)
@click.option("--push-retry-base", default=10.0, show_default=True, type=float, metavar="SECONDS")
@click.option("--outage-carrier", multiple=True, help=N_("every call to this carrier fails"))
@click.option("--outage-province", multiple=True, help=N_("every call to this province fails"))
@click.option("--reports", type=click.Choice(REPORT_MODES), default="normal", show_default=True)
@click.option("--report-delay", default=600.0, show_default=True, type=float, metavar="SECONDS")
@click.option("--pull-fault", type=click.Choice(PULL_MODES), default="normal", show_default=True)
@click.option("--unreachable", is_flag=True, help=N_("every API request hangs, then is dropped"))
@click.option(
    "--auth-fault",
    type=click.Choice(AUTH_MODES),
    default="normal",
    show_default=True,
    help=N_("apikey: every request refused -1 (key revoked); ip: -3 (IP not whitelisted)"),
)
@click.option(
    "--quiet-hours-now",
    is_flag=True,
    help=N_("refuse domestic codes as 22:00-07:30 does, any time"),
)
@click.option(
    "--rate-limited",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    metavar="SHARE",
    help=N_("share of sends refused -5 (account call rate exceeded)"),
)
def simulate(
    host: str,
    port: int,
    apikey: str,
    traffic: float | None,
    traffic_callback: str | None,
    no_quiet_hours: bool,
    outage_carrier: tuple[str, ...],
    outage_province: tuple[str, ...],
    reports: str,
    report_delay: float,
    pull_fault: str,
    unreachable: bool,
    auth_fault: str,
    quiet_hours_now: bool,
    rate_limited: float,
    **settings: object,
) -> None:
    attack, attack_target = settings.pop("attack"), settings.pop("attack_target")
    try:
        config = SimulatorConfig(apikey=apikey, quiet_hours=not no_quiet_hours, **settings)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    incidents = Incidents(
        frozenset(outage_carrier),
        frozenset(outage_province),
        reports,
        report_delay,
        pull_fault,
        unreachable,
        auth=auth_fault,
        quiet_hours=quiet_hours_now,
        rate_limited=rate_limited,
    )
    plan = TrafficPlan(traffic, traffic_callback) if traffic else None
    if attack:
        attack_once_up(f"http://127.0.0.1:{port}", str(attack), str(attack_target or ""))
    _ = cli_language(dict(os.environ)).gettext
    click.echo(
        _("Yunpian voice simulator on {url} (apikey {apikey})").format(
            url=f"http://{host}:{port}", apikey=masked_apikey(apikey)
        )
    )
    if plan:
        click.echo(_("synthetic traffic: {rate} sends/s").format(rate=f"{plan.rate_per_s:g}"))
    run_simulator(config, host, port, plan, incidents=incidents)
