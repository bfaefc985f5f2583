"""`voicewatch alerts run|list|test`: the alert loop, the rules with their states, a test
message to every channel. A thin shell over ingest.alerts; its human output is in the
language of VOICEWATCH_LANG, else LANG and friends."""

from __future__ import annotations

import contextlib
import os
import threading

import click

from ingest.i18n import N_, Language, cli_language
from ingest.places import place_name
from ingest.settings import Settings, SettingsError

STATUS_WORDS = {"pending": N_("PENDING"), "firing": N_("FIRING")}
SEVERITY_WORDS = {"info": N_("info"), "warning": N_("warning"), "critical": N_("critical")}


def _settings() -> tuple[Settings, object]:
    from ingest.alerts.config import AlertSettings

    try:
        return Settings.from_env(), AlertSettings.from_env(os.environ)
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def _rules(path: str | None):
    from ingest.alerts.rules import RulesError, load_rules

    try:
        return load_rules(path)
    except RulesError as error:
        raise click.UsageError(str(error)) from None


def _language() -> Language:
    return cli_language(dict(os.environ))


def _value(kind: str, value: float | None, language: Language) -> str:
    """A measured value in the rule kind's unit: '5.0%', '120 s' / '120 秒'."""
    from ingest.alerts.messages import format_value

    if value is not None and kind in ("pull_stale", "push_stale"):
        return language.gettext("{n} s").format(n=f"{value:.0f}")
    if value is not None and kind == "balance_runway":
        return language.gettext("{n} h").format(n=f"{value:.1f}")
    return format_value(kind, value)


def _where(subject: str, language: Language) -> str:
    """'carrier=China Mobile' with its scope in the reader's language; 'overall' when empty."""
    if not subject:
        return language.gettext("overall")
    scope, _sep, where = subject.partition("=")
    return language.gettext("{scope}={where}").format(
        scope=language.gettext(scope), where=place_name(where, language)
    )


def _channels(alert_settings):
    from ingest.alerts.channels import ChannelError, Channels

    try:
        return Channels(alert_settings.urls)
    except ChannelError as error:
        raise click.UsageError(str(error)) from None


@click.group(
    help=N_(
        "On-call alerts: rules in alerts.toml [VOICEWATCH_ALERTS], channels in "
        "VOICEWATCH_ALERT_URLS (Apprise URLs)."
    )
)
def alerts() -> None:
    pass


@alerts.command(help=N_("Evaluate the rules continuously and notify the channels."))
@click.option(
    "--interval", type=float, help=N_("seconds between evaluations [VOICEWATCH_ALERT_INTERVAL, 30]")
)
@click.option("--once", is_flag=True, help=N_("evaluate once and exit"))
def run(interval: float | None, once: bool) -> None:
    import httpx

    from ingest.alerts.balance import fetch_balance
    from ingest.alerts.config import sms_url
    from ingest.alerts.loop import AlertLoop
    from ingest.store.engine import make_engine

    language = _language()
    settings, alert_settings = _settings()
    rules, channels = _rules(alert_settings.rules_path), _channels(alert_settings)
    if not channels:
        click.echo(
            language.gettext(
                "no channel configured (VOICEWATCH_ALERT_URLS): alerts show on the dashboard only"
            )
        )
    with httpx.Client(timeout=settings.upstream_timeout) as http:
        loop = AlertLoop(
            make_engine(settings.db_url),
            rules,
            channels,
            alert_settings.dashboard_url,
            interval or alert_settings.interval,
            balance=lambda: fetch_balance(http, sms_url(settings), settings.apikey_or_demo),
        )
        click.echo(
            language.gettext(
                "alert loop: {rules} rules, {channels} channel(s), every {interval} s"
            ).format(rules=len(rules), channels=len(channels.masked), interval=f"{loop.interval:g}")
        )
        if once:
            result = loop.tick()
            click.echo(
                language.gettext("evaluated: {evaluated}, events: {events}, sent: {sent}").format(
                    evaluated=result.evaluated, events=result.events, sent=result.sent
                )
            )
            return
        with contextlib.suppress(KeyboardInterrupt):
            loop.run(threading.Event())


@alerts.command(
    name="list", help=N_("Every rule with its threshold and window, and where it stands now.")
)
def list_rules() -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ingest.store.alert_models import AlertState
    from ingest.store.engine import make_engine

    language = _language()
    settings, alert_settings = _settings()
    rules = _rules(alert_settings.rules_path)
    with Session(make_engine(settings.db_url)) as session:
        states = list(
            session.scalars(select(AlertState).where(AlertState.status.in_(("pending", "firing"))))
        )
    for rule in rules:
        click.echo(f"{rule.name:<28} {_rule_line(rule, language)}")
        for state in (s for s in states if s.rule == rule.name):
            click.echo(
                f"    {language.gettext(STATUS_WORDS[state.status])} "
                f"{_where(state.subject, language)}: {_value(rule.kind, state.value, language)}"
            )
    masked = ", ".join(_channels(alert_settings).masked) or language.gettext("none")
    click.echo(language.gettext("channels: {channels}").format(channels=masked))


def _rule_line(rule, language: Language) -> str:
    """A rule's severity, kind, threshold, window and minimum sample, in one line."""
    what = rule.kind
    if rule.scope != "overall":
        what = language.gettext("{kind} per {scope}").format(
            kind=rule.kind, scope=language.gettext(rule.scope)
        )
    return language.gettext(
        "{severity} {what}, threshold {threshold}, window {window} s, min sample {sample}"
    ).format(
        severity=f"{language.gettext(SEVERITY_WORDS[rule.severity]):<8}",
        what=what,
        threshold=f"{rule.threshold:g}",
        window=f"{rule.window:g}",
        sample=rule.min_sample,
    )


@alerts.command(help=N_("Send a test message to every channel in VOICEWATCH_ALERT_URLS."))
def test() -> None:
    from ingest.alerts.messages import channel_test_message

    language = _language()
    _, alert_settings = _settings()
    channels = _channels(alert_settings)
    if not channels:
        raise click.UsageError(language.gettext("no channel configured: set VOICEWATCH_ALERT_URLS"))
    deliveries = channels.send(channel_test_message(alert_settings.dashboard_url))
    for delivery in deliveries:
        if delivery.ok:
            click.echo(language.gettext("sent: {channel}").format(channel=delivery.channel))
        else:
            click.echo(language.gettext("FAILED: {channel}").format(channel=delivery.channel))
    if not all(d.ok for d in deliveries):
        raise SystemExit(1)
