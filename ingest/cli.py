"""`voicewatch …` commands: a thin shell over the library."""

from __future__ import annotations

import getpass
import json
import os
import secrets
import sys

import click

from dashboard.cli import dashboard
from ingest import logs
from ingest.alerts.cli import alerts
from ingest.cli_language import cache_folder, speak
from ingest.guard.cli import guard
from ingest.i18n import N_, Language, cli_language
from ingest.seed.history import seed_command
from ingest.settings import Settings, SettingsError
from ingest.simulator.cli import simulate
from ingest.up import up


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def _language() -> Language:
    """The language of the commands' human output: VOICEWATCH_LANG, else LANG and friends."""
    return cli_language(dict(os.environ))


def _engine(settings: Settings):
    from ingest.store.engine import make_engine

    return make_engine(settings.db_url, store_wait=settings.store_wait)


class _Voicewatch(click.Group):
    """The root command: puts every command in the reader's language before parsing, so that
    `--help` and click's errors are in it too."""

    def main(self, *args, **kwargs):
        speak(self, _language(), cache_folder(os.environ))
        return super().main(*args, **kwargs)


@click.group(
    cls=_Voicewatch,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("voicewatch: delivery monitoring for Yunpian voice verification codes."),
)
@click.option(
    "--log-level", default="INFO", show_default=True, help=N_("DEBUG, INFO, WARNING, ERROR")
)
def main(log_level: str) -> None:
    logs.configure(log_level.upper())


@main.command(
    help=N_(
        "Send one voice code to MOBILE through the configured upstream, and record it.\n\n"
        "With no YUNPIAN_APIKEY that is the simulator `voicewatch up` runs (YUNPIAN_VOICE_URL, "
        "default http://127.0.0.1:8800), never Yunpian itself."
    )
)
@click.argument("mobile")
@click.option("--code", help=N_("4–6 digits; a random 6-digit code when omitted"))
@click.option("--display-num", help=N_("caller number to show (needs registering with Yunpian)"))
@click.option("--callback-url", help=N_("where Yunpian pushes this call's report"))
@click.option("--json", "as_json", is_flag=True, help=N_("print the outcome as JSON"))
@click.option("--actor", help=N_("who sends, for the audit of manual sends [your login name]"))
def send(
    mobile: str,
    code: str | None,
    display_num: str | None,
    callback_url: str | None,
    as_json: bool,
    actor: str | None,
) -> None:
    from ingest.i18n import FEE_UNIT_LABELS
    from ingest.numbers import as_sent, mask
    from ingest.sending import send_test_call
    from ingest.support import call_problems, refusal_message
    from ingest.text import printable

    language = cli_language(dict(os.environ))
    settings = _settings()
    code = code or f"{secrets.randbelow(10**6):06d}"
    problems = call_problems(mobile, code, language)
    if problems:
        raise click.UsageError("; ".join(problems))
    mobile = as_sent(mobile) or mobile
    outcome = send_test_call(
        settings,
        _engine(settings),
        mobile,
        code,
        display_num=display_num,
        callback_url=callback_url,
        source="cli",
        actor=actor or _login_name(),
    )
    if as_json:
        click.echo(
            json.dumps({k: getattr(outcome, k) for k in outcome.__slots__}, ensure_ascii=False)
        )
    elif outcome.accepted:
        click.echo(
            language.gettext("accepted: calling {number} — sid {sid}, fee {fee} {unit}").format(
                number=mask(mobile),
                sid=printable(outcome.sid),
                fee=f"{outcome.fee:g}",
                unit=language.gettext(FEE_UNIT_LABELS[settings.fee_unit]),
            )
        )
    elif outcome.result_code is None:
        click.echo(
            language.gettext(
                "unknown: {msg}; the call to {number} may have been placed, do not send again "
                "before `voicewatch lookup` shows its report"
            ).format(msg=printable(outcome.msg), number=mask(mobile))
        )
    else:
        click.echo(
            language.gettext("refused: {reason}").format(
                reason=refusal_message(outcome.result_code, language)
            )
        )
    if not outcome.accepted:
        sys.exit(1)


@main.command(
    help=N_(
        "Pull delivery reports from Yunpian into the database, forever or --once.\n\n"
        "With VOICEWATCH_RETENTION_DAYS set, also purges older rows at start and every hour."
    )
)
@click.option("--once", is_flag=True, help=N_("drain once and exit"))
@click.option(
    "--interval", type=float, help=N_("seconds between drains [VOICEWATCH_PULL_INTERVAL, 5]")
)
def pull(once: bool, interval: float | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from ingest import pull as pull_loop
    from ingest.yunpian.client import VoiceClient, YunpianError

    settings = _settings()
    with VoiceClient(settings.voice_url, settings.apikey_or_demo) as client:
        try:
            pull_loop.run(
                client,
                _engine(settings),
                interval=interval or settings.pull_interval,
                once=once,
                retention_days=settings.retention_days,
            )
        except YunpianError as error:
            raise click.ClickException(str(error)) from None
        except SQLAlchemyError as error:
            raise click.ClickException(
                _language().gettext("database error: {error}").format(error=type(error).__name__)
            ) from None
        except KeyboardInterrupt:
            pass


@main.command(help=N_("Run the ingest service: push receiver, relay, /healthz and /metrics."))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    import uvicorn

    from ingest.alerts.config import AlertSettings
    from ingest.alerts.rules import load_rules
    from ingest.service.app import create_app

    settings = _settings()
    # The alert rules say which firing alerts make /healthz degraded.
    rules = load_rules(AlertSettings.from_env(os.environ).rules_path)
    app = create_app(settings, _engine(settings), alert_rules=rules)
    click.echo(
        _language()
        .gettext("voicewatch ingest on {url} (push: /push/voice, relay: /v2/voice/send.json)")
        .format(url=f"http://{host}:{port}")
    )
    # No access log: push and relay URLs carry tokens (?token=…, /relay/{token}/…).
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@main.command(
    help=N_(
        "Sends and reports for a sid or a number (any way of writing it), newest first; a partial "
        "number (152****9867, the last 4 digits) lists the numbers it may mean. Exits 1 when "
        "nothing matched."
    )
)
@click.argument("sid_or_mobile")
@click.option("--json", "as_json", is_flag=True, help=N_("machine-readable output"))
@click.option("--unmask", is_flag=True, help=N_("show full numbers (on-call use)"))
def lookup(sid_or_mobile: str, as_json: bool, unmask: bool) -> None:
    from datetime import timedelta

    from ingest.lookup_view import NothingStored, render_lookup
    from ingest.throttle import ThrottleLimits

    settings = _settings()
    try:
        text = render_lookup(
            _engine(settings),
            sid_or_mobile,
            as_json=as_json,
            unmask=unmask,
            language=cli_language(dict(os.environ)),
            no_report_after=timedelta(seconds=settings.no_report_after),
            limits=ThrottleLimits.of(settings),
        )
    except NothingStored as nothing:
        click.echo(str(nothing), err=True)
        sys.exit(1)
    click.echo(text)


@main.group(help=N_("Database maintenance."))
def db() -> None:
    pass


@db.command(help=N_("Migrate the database in VOICEWATCH_DB to the newest schema."))
def upgrade() -> None:
    from ingest.store.engine import current_revision, make_engine

    settings = _settings()
    engine = make_engine(settings.db_url)
    revision = current_revision(engine)
    click.echo(_language().gettext("database at revision {revision}").format(revision=revision))


@db.command(help=N_("Delete raw bodies, reports and pull runs older than the retention period."))
@click.option("--days", type=int, help=N_("delete older than this [VOICEWATCH_RETENTION_DAYS]"))
def purge(days: int | None) -> None:
    from ingest.store.writes import purge_older_than

    settings, language = _settings(), _language()
    days = days or settings.retention_days
    if not days:
        raise click.UsageError(
            language.gettext("no retention period: pass --days or set VOICEWATCH_RETENTION_DAYS")
        )
    deleted = purge_older_than(_engine(settings), days)
    line = language.gettext("{table}: {count} deleted")
    click.echo(
        ("，" if language.chinese else ", ").join(
            line.format(table=table, count=language.number(count))
            for table, count in deleted.items()
        )
    )


@db.command(
    help=N_(
        "Parse quarantined and malformed bodies in the raw inbox again with this version's parser "
        "and store the reports it takes now (after an upgrade). Safe to repeat."
    )
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["quarantined", "malformed"]),
    default=("quarantined", "malformed"),
    show_default=True,
    help=N_("which kept bodies to parse again (repeat for both)"),
)
def replay(statuses: tuple[str, ...]) -> None:
    from ingest.replay import replay_inbox

    result = replay_inbox(_engine(_settings()), statuses, progress=sys.stderr.isatty())
    click.echo(
        _language()
        .gettext(
            "{bodies} bodies parsed again: {new} reports stored, "
            "{ok} bodies now ok, {refused} still quarantined or malformed"
        )
        .format(bodies=result.bodies, new=result.new, ok=result.ok, refused=result.refused)
    )


def _login_name() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return None


# Commands that live beside the code they drive.
main.add_command(simulate)
main.add_command(seed_command, name="seed")
main.add_command(dashboard)
main.add_command(up)
main.add_command(alerts)
main.add_command(guard)
