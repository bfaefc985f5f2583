"""`voicewatch up`: the whole system in one command (what `make run` calls).

Without YUNPIAN_APIKEY: the simulator with synthetic users sending through the relay, the
ingest service, the pull loop and the dashboard, all on one database (seeded once with
history). With an apikey: the same minus the simulator and the synthetic users, on Yunpian.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import click
import httpx
from sqlalchemy import func, select

from ingest.i18n import N_, Language, cli_language
from ingest.seed.live import LIVE_SPAN, LiveTraffic
from ingest.settings import DEMO_APIKEY, Settings
from ingest.simulator.traffic import parse_rate
from ingest.store.engine import make_engine
from ingest.store.models import Send

MAX_START_FAILURES = 5  # a part that fails this often in a row at start stops the stack
STARTED_AFTER = 30.0  # seconds a part must run to count as started (its failures forgiven)
MAX_RESTART_DELAY = 60.0


@dataclass
class Child:
    name: str
    args: list[str]
    health_url: str | None
    process: subprocess.Popen
    started_at: float
    failures: int = 0  # exits in a row, each within STARTED_AFTER of its start
    restart_at: float | None = None  # when it exited: when it is started again


@dataclass
class Supervisor:
    """Starts the parts as child processes, starts again (with backoff) any that exits, and
    stops them all together; gives up when one fails `max_start_failures` times in a row
    at start (a port taken, a database it cannot open: restarting would not help)."""

    env: dict[str, str]
    max_start_failures: int = MAX_START_FAILURES
    children: list[Child] = field(default_factory=list)
    language: Language = field(default_factory=Language)

    def start(self, name: str, args: list[str], health_url: str | None = None) -> None:
        self.children.append(Child(name, args, health_url, self._spawn(args), time.monotonic()))

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        command = [sys.executable, "-m", "ingest", *args]
        # A new process group, so Ctrl-C reaches only us and we stop the children in order;
        # and should we die without cleaning up (SIGKILL), the kernel stops them for us.
        return subprocess.Popen(
            command, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        for child in self.children:
            while child.health_url:
                self.watch()
                try:
                    # Serving is enough: /healthz answers 503 `degraded` while, say, the
                    # pull loop (started alongside) has not pulled yet.
                    if _serving(httpx.get(child.health_url, timeout=2)):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise click.ClickException(
                        self.language.gettext("{part} did not become healthy at {url}").format(
                            part=child.name, url=child.health_url
                        )
                    )
                time.sleep(0.2)

    def watch(self) -> None:
        """Start again the parts that exited, once their backoff is over; ClickException if
        one failed `max_start_failures` times in a row at start."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is None and child.process.poll() is not None:
                self._exited(child, now)
            if child.restart_at is not None and now >= child.restart_at:
                _say(self.language.gettext("starting {part} again").format(part=child.name))
                child.process, child.started_at = self._spawn(child.args), now
                child.restart_at = None

    def _exited(self, child: Child, now: float) -> None:
        at_start = now - child.started_at < STARTED_AFTER
        child.failures = child.failures + 1 if at_start else 1
        status = child.process.returncode
        if at_start and child.failures >= self.max_start_failures:
            raise click.ClickException(
                self.language.gettext(
                    "{part} exited with status {status} at start "
                    "{failures} times in a row: stopping everything"
                ).format(part=child.name, status=status, failures=child.failures)
            )
        delay = min(MAX_RESTART_DELAY, 2.0 ** (child.failures - 1))
        child.restart_at = now + delay
        message = N_("{part} exited with status {status}; starting it again in {delay} s")
        _say(
            self.language.gettext(message).format(
                part=child.name, status=status, delay=f"{delay:.0f}"
            )
        )

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()


def _say(message: str) -> None:
    """One line on stderr, timed, for whoever watches `voicewatch up`."""
    click.echo(f"{time.strftime('%H:%M:%S')} up: {message}", err=True)


def _serving(answer: httpx.Response) -> bool:
    """Whether a health URL's answer says the child is up: 200, or ingest's 503 `degraded`."""
    if answer.status_code == 200:
        return True
    try:
        return answer.status_code == 503 and answer.json().get("status") == "degraded"
    except ValueError:
        return False


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when its parent exits (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    # A supervisor's SIGTERM (systemd, `timeout`, docker stop) stops the parts like Ctrl-C.
    raise KeyboardInterrupt


def _seed_if_empty(
    settings: Settings, days: int, per_day: int, language: Language, live: LiveTraffic | None
) -> None:
    """Backfill history once, into a database that has no sends yet; its last days as the
    `live` synthetic traffic makes them, so the alert rules find the demo's normal normal."""
    from ingest.seed.history import seed

    engine = make_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            empty = connection.execute(select(func.count()).select_from(Send)).scalar_one() == 0
        if empty:
            click.echo(
                language.gettext("empty database: seeding {days} days of history…").format(
                    days=days
                )
            )
            seed(engine, days=days, per_day=per_day, progress=True, language=language, live=live)
    finally:
        engine.dispose()


@click.command(
    help=N_(
        "Run simulator (unless YUNPIAN_APIKEY is set), ingest, pull loop and dashboard; a part "
        "that exits is started again; Ctrl-C or SIGTERM stops them all."
    )
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help=N_("address every part listens on")
)
@click.option("--ingest-port", default=8000, show_default=True, type=int)
@click.option("--dashboard-port", default=8501, show_default=True, type=int)
@click.option("--simulator-port", default=8800, show_default=True, type=int)
@click.option(
    "--traffic", default="1/s", show_default=True, help=N_("synthetic sends (simulated mode)")
)
@click.option(
    "--seed-days", default=30, show_default=True, type=int, help=N_("history for an empty database")
)
@click.option("--seed-per-day", default=1500, show_default=True, type=int)
@click.option(
    "--seed-live-hours",
    default=int(LIVE_SPAN / timedelta(hours=1)),
    show_default=True,
    type=click.IntRange(0),
    help=N_(
        "the last hours of that history drawn like the live traffic, at its rate (what the "
        "alert rules compare the live traffic with); 0: all of it lighter, shaped by day"
    ),
)
@click.option(
    "--quiet-hours/--no-quiet-hours",
    default=False,
    show_default=True,
    help=N_("simulate 22:00–07:30"),
)
@click.option(
    "--max-start-failures",
    default=MAX_START_FAILURES,
    show_default=True,
    type=click.IntRange(1),
    # The numbers are MAX_RESTART_DELAY and STARTED_AFTER (a msgid cannot be an f-string).
    help=N_(
        "a part that exits is started again with backoff (1 s, 2 s, 4 s... up to 60 s); the "
        "whole stack stops when one exits this many times in a row within 30 s of its start"
    ),
)
def up(
    host: str,
    ingest_port: int,
    dashboard_port: int,
    simulator_port: int,
    traffic: str,
    seed_days: int,
    seed_per_day: int,
    seed_live_hours: int,
    quiet_hours: bool,
    max_start_failures: int,
) -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    # Ctrl-C stops everything even when `up` was started from a script in the background,
    # whose shell hands it SIGINT ignored (Python then keeps ignoring it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings, language = Settings.from_env(), cli_language(dict(os.environ))
    ingest_url = f"http://{host}:{ingest_port}"
    simulator_url = f"http://{host}:{simulator_port}"
    env = dict(os.environ)
    env.setdefault("VOICEWATCH_DB", settings.db_url)

    if seed_days:
        live = demo_traffic(settings, traffic, quiet_hours, seed_live_hours)
        _seed_if_empty(settings, seed_days, seed_per_day, language, live)

    supervisor = Supervisor(env, max_start_failures, language=language)
    stop_traffic = threading.Event()
    try:
        if settings.simulated:
            env["YUNPIAN_VOICE_URL"] = simulator_url
            simulate = _simulate_command(settings, host, simulator_port, ingest_url, quiet_hours)
            supervisor.start("simulator", simulate, f"{simulator_url}/_sim/state")
        supervisor.start(
            "ingest", ["serve", "--host", host, "--port", str(ingest_port)], f"{ingest_url}/healthz"
        )
        supervisor.start("pull loop", ["pull", "--interval", str(max(1.0, settings.pull_interval))])
        # Alerts link to this dashboard; channels come from VOICEWATCH_ALERT_URLS.
        env.setdefault("VOICEWATCH_DASHBOARD_URL", f"http://{host}:{dashboard_port}")
        supervisor.start("alerts", ["alerts", "run"])
        supervisor.start(
            "dashboard",
            ["dashboard", "--host", host, "--port", str(dashboard_port)],
            f"http://{host}:{dashboard_port}/_stcore/health",
        )
        supervisor.wait_healthy()
        if settings.simulated:
            _start_traffic(ingest_url, traffic, quiet_hours, stop_traffic)
        dashboard_url = f"http://{host}:{dashboard_port}"
        _print_urls(settings, language, ingest_url, simulator_url, dashboard_url, traffic)
        while True:
            supervisor.watch()
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("\n" + language.gettext("stopping…"))
    finally:
        stop_traffic.set()
        supervisor.stop()


def demo_traffic(
    settings: Settings, traffic: str, quiet_hours: bool, hours: int
) -> LiveTraffic | None:
    """The synthetic users' traffic, when they run (no apikey): the seed's last `hours` are
    theirs."""
    if not settings.simulated or not hours:
        return None
    return LiveTraffic(parse_rate(traffic), quiet_hours, timedelta(hours=hours))


DEMO_BALANCE = 100_000_000


def _simulate_command(
    settings: Settings, host: str, port: int, ingest_url: str, quiet_hours: bool
) -> list[str]:
    """`voicewatch simulate` pushing its reports to the ingest service at `ingest_url`."""
    push_url = f"{ingest_url}/push/voice"
    if settings.push_token:
        push_url += f"?token={settings.push_token.reveal()}"
    command = ["simulate", "--host", host, "--port", str(port), "--push-url", push_url]
    # The demo account is topped up so it never runs dry (10,000 lasted about 2.8 h).
    command += ["--balance", str(DEMO_BALANCE)]
    # The account limits in force (VOICEWATCH_LIMIT_PER_*), so Lookup's predictions hold.
    for flag, limit in (
        ("--limit-per-hour", settings.limit_per_hour),
        ("--limit-per-day", settings.limit_per_day),
    ):
        if limit is not None:
            command += [flag, str(limit)]
    return command if quiet_hours else [*command, "--no-quiet-hours"]


def _start_traffic(relay_url: str, rate: str, quiet_hours: bool, stop: threading.Event) -> None:
    from ingest.simulator.traffic import run_traffic

    thread = threading.Thread(
        target=run_traffic,
        kwargs={
            "target_url": relay_url,
            "apikey": DEMO_APIKEY,
            "rate_per_s": parse_rate(rate),
            "stop_event": stop,
            "quiet_hours": quiet_hours,
        },
        daemon=True,
    )
    thread.start()


def _print_urls(
    settings: Settings,
    language: Language,
    ingest_url: str,
    simulator_url: str,
    dashboard_url: str,
    traffic: str,
) -> None:
    _ = language.gettext
    click.echo("")
    click.secho("  " + _("dashboard   {url}").format(url=dashboard_url), bold=True)
    click.echo(
        "  "
        + _(
            "ingest      {url}  (push: /push/voice · relay: /v2/voice/send.json · /metrics)"
        ).format(url=ingest_url)
    )
    if settings.simulated:
        line = _("simulator   {url}  (ground truth: /_sim/calls) — synthetic users at {rate}")
        click.echo("  " + line.format(url=simulator_url, rate=traffic))
    else:
        line = _("Yunpian     {url}  — register {push_url}?token=… as push URL")
        click.echo("  " + line.format(url=settings.voice_url, push_url=f"{ingest_url}/push/voice"))
    click.echo("  " + _("database    {url}").format(url=settings.db_url))
    click.echo("  " + _("Ctrl-C stops everything.") + "\n")
