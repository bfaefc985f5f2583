"""`voicewatch guard …`: replay a rule set over past sends, see recent decisions, edit the
allow and block lists. A thin shell over replay.py and lists.py."""

from __future__ import annotations

import getpass
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ingest.guard.config import MODES, GuardConfigError, load_config
from ingest.guard.lists import (
    KINDS,
    ListError,
    add_entry,
    import_file,
    list_entries,
    load_lists,
    remove_entry,
)
from ingest.guard.replay import replay as replay_sends
from ingest.guard.summary import decisions_by_rule
from ingest.i18n import N_, cli_language
from ingest.numbers import mask
from ingest.settings import Settings, SettingsError


def _context():
    from ingest.store.engine import make_engine

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    return settings, make_engine(settings.db_url, store_wait=settings.store_wait)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@click.group(
    help=N_("The guard: rules the relay applies before a send leaves (see docs/security.md).")
)
def guard() -> None:
    pass


@guard.command(
    help=N_("What a rule set would have blocked over the stored sends of the last DAYS days.")
)
@click.option("--days", type=float, default=7, show_default=True, help=N_("replay the last N days"))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False),
    help=N_("a guard TOML file [VOICEWATCH_GUARD, else the defaults]"),
)
@click.option("--mode", type=click.Choice(MODES), help=N_("replay every rule in this mode"))
@click.option("--unmask", is_flag=True, help=N_("show full numbers in the top prefixes"))
def replay(days: float, rules_path: str | None, mode: str | None, unmask: bool) -> None:
    _ = cli_language(dict(os.environ)).gettext
    settings, engine = _context()
    try:
        config = load_config(rules_path or settings.guard_path or None)
    except GuardConfigError as error:
        raise click.UsageError(str(error)) from None
    if mode:
        config = config.with_modes(mode)
    end = datetime.now(UTC)
    result = replay_sends(engine, config, load_lists(engine), end - timedelta(days=days), end)
    total, blocked = len(result.sends), len(result.blocked)
    click.echo(
        _("{sends} sends replayed: {blocked} would be blocked, {recorded} only recorded").format(
            sends=total, blocked=blocked, recorded=len(result.recorded)
        )
    )
    genuine = len(result.genuine_blocked)
    click.echo(
        _("genuine-looking among the blocked (answered, not in a burst): {n} ({share})").format(
            n=genuine, share=f"{genuine / blocked:.1%}" if blocked else "-"
        )
    )
    click.echo(
        _("estimated spend saved: {fee} {unit}").format(
            fee=f"{result.spend_saved:g}", unit=_(settings.fee_unit)
        )
    )
    rules = Counter(s.decision.rule for s in result.sends if s.decision.fired)
    for rule, count in rules.most_common():
        click.echo(f"  {rule}: {count}")
    prefixes = Counter((s.country, s.prefix) for s in result.blocked)
    if prefixes:
        click.echo(_("top blocked prefixes:"))
    for (country, prefix), count in prefixes.most_common(10):
        click.echo(f"  {country} {prefix if unmask else mask(prefix)}…: {count}")


@guard.command(help=N_("The live guard's decisions of the last HOURS hours, by rule and mode."))
@click.option("--hours", type=float, default=24, show_default=True)
def decisions(hours: float) -> None:
    _ = cli_language(dict(os.environ)).gettext
    _settings, engine = _context()
    rows = decisions_by_rule(engine, datetime.now(UTC) - timedelta(hours=hours))
    if not rows:
        click.echo(_("no rule fired"))
    for rule, mode, blocked, count in rows:
        outcome = _("blocked") if blocked else _("let through")
        click.echo(f"{rule} ({mode}), {outcome}: {count}")


@guard.command(name="lists", help=N_("The allow and block lists."))
def show_lists() -> None:
    _settings, engine = _context()
    for entry in list_entries(engine):
        click.echo(f"{entry.kind}\t{entry.value}\t{entry.added_by}\t{entry.note}")


def _edit(kind: str, value: str, note: str, remove: bool) -> None:
    _ = cli_language(dict(os.environ)).gettext
    _settings, engine = _context()
    try:
        if remove:
            changed = remove_entry(engine, kind, value, _actor(), "cli")
        else:
            changed = add_entry(engine, kind, value, _actor(), "cli", note)
    except ListError as error:
        raise click.UsageError(str(error)) from None
    click.echo(_("done") if changed else _("nothing to change"))


@guard.command(help=N_("Put a number (or a prefix ending in *) on the allow list: always sent."))
@click.argument("value")
@click.option("--note", default="", help=N_("why, for the audit"))
def allow(value: str, note: str) -> None:
    _edit("allow", value, note, remove=False)


@guard.command(help=N_("Put a number (or a prefix ending in *) on the block list: always refused."))
@click.argument("value")
@click.option("--note", default="", help=N_("why, for the audit"))
def block(value: str, note: str) -> None:
    _edit("block", value, note, remove=False)


@guard.command(help=N_("Take a number or prefix off the allow or block list."))
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("value")
def unlist(kind: str, value: str) -> None:
    _edit(kind, value, "", remove=True)


@guard.command(
    name="import", help=N_("Add the lines of a file (`allow|block VALUE [note]`) to the lists.")
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_lists(path: Path) -> None:
    _ = cli_language(dict(os.environ)).gettext
    _settings, engine = _context()
    added, refused = import_file(engine, path, _actor())
    click.echo(_("{n} entries added").format(n=added))
    for line in refused:
        click.echo(line, err=True)
