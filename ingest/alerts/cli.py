"""`voicewatch alerts run|list|test`: the alert loop, the rules with their states, a test
message to every channel. A thin shell over ingest.alerts."""

from __future__ import annotations

import contextlib
import os
import threading

import click

from ingest.settings import Settings, SettingsError


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


def _channels(alert_settings):
    from ingest.alerts.channels import ChannelError, Channels

    try:
        return Channels(alert_settings.urls)
    except ChannelError as error:
        raise click.UsageError(str(error)) from None


@click.group()
def alerts() -> None:
    """On-call alerts: rules in alerts.toml [VOICEWATCH_ALERTS], channels in
    VOICEWATCH_ALERT_URLS (Apprise URLs)."""


@alerts.command()
@click.option(
    "--interval", type=float, help="seconds between evaluations [VOICEWATCH_ALERT_INTERVAL, 30]"
)
@click.option("--once", is_flag=True, help="evaluate once and exit")
def run(interval: float | None, once: bool) -> None:
    """Evaluate the rules continuously and notify the channels."""
    import httpx

    from ingest.alerts.balance import fetch_balance
    from ingest.alerts.config import sms_url
    from ingest.alerts.loop import AlertLoop
    from ingest.store.engine import make_engine

    settings, alert_settings = _settings()
    rules, channels = _rules(alert_settings.rules_path), _channels(alert_settings)
    if not channels:
        click.echo(
            "no channel configured (VOICEWATCH_ALERT_URLS): alerts show on the dashboard only"
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
            f"alert loop: {len(rules)} rules, {len(channels.masked)} channel(s), every {loop.interval:g} s"
        )
        if once:
            result = loop.tick()
            click.echo(
                f"evaluated: {result.evaluated}, events: {result.events}, sent: {result.sent}"
            )
            return
        with contextlib.suppress(KeyboardInterrupt):
            loop.run(threading.Event())


@alerts.command(name="list")
def list_rules() -> None:
    """Every rule with its threshold and window, and where it stands now."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ingest.alerts.messages import format_value
    from ingest.store.alert_models import AlertState
    from ingest.store.engine import make_engine

    settings, alert_settings = _settings()
    rules = _rules(alert_settings.rules_path)
    with Session(make_engine(settings.db_url)) as session:
        states = list(
            session.scalars(select(AlertState).where(AlertState.status.in_(("pending", "firing"))))
        )
    for rule in rules:
        scope = f" per {rule.scope}" if rule.scope != "overall" else ""
        click.echo(
            f"{rule.name:<28} {rule.severity:<8} {rule.kind}{scope}, threshold {rule.threshold:g}, "
            f"window {rule.window:g} s, min sample {rule.min_sample}"
        )
        for state in (s for s in states if s.rule == rule.name):
            where = state.subject or "overall"
            click.echo(
                f"    {state.status.upper()} {where}: {format_value(rule.kind, state.value)}"
            )
    click.echo(f"channels: {', '.join(_channels(alert_settings).masked) or 'none'}")


@alerts.command()
def test() -> None:
    """Send a test message to every channel in VOICEWATCH_ALERT_URLS."""
    from ingest.alerts.messages import channel_test_message

    _, alert_settings = _settings()
    channels = _channels(alert_settings)
    if not channels:
        raise click.UsageError("no channel configured: set VOICEWATCH_ALERT_URLS")
    deliveries = channels.send(channel_test_message(alert_settings.dashboard_url))
    for delivery in deliveries:
        click.echo(f"{'sent' if delivery.ok else 'FAILED'}: {delivery.channel}")
    if not all(d.ok for d in deliveries):
        raise SystemExit(1)
