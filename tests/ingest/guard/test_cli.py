"""`voicewatch guard`: replay in the terminal, decisions, and the lists (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.cli import main
from ingest.store.models import GuardListChange, Send
from ingest.store.writes import record_send
from tests.ingest.guard.support import velocity_rules

NOW = datetime.now(UTC)


def stored_send(engine, mobile: str, at: datetime, actor: str = "shop") -> None:
    record_send(
        engine,
        Send(
            sent_at=at,
            mobile=mobile,
            code_digest="x",
            result_code=0,
            result_msg="OK",
            fee=0.5,
            source="relay",
            actor=actor,
            carrier="",
            province="",
        ),
    )


def run(db_url: str, *args: str):
    env = {"VOICEWATCH_DB": db_url, "VOICEWATCH_DIGEST_KEY": "k", "VOICEWATCH_LANG": "en"}
    return CliRunner().invoke(main, ["guard", *args], env=env, catch_exceptions=False)


def test_guard_replay_days_shows_what_the_rules_would_block(engine, db_url, tmp_path):
    for n in range(12):  # one range pumped within minutes, two days ago
        stored_send(engine, f"+2327612{n:04d}", NOW - timedelta(days=2, seconds=-10 * n))
    stored_send(engine, "15205201314", NOW - timedelta(hours=3))
    result = run(db_url, "replay", "--days", "7", "--rules", velocity_rules(tmp_path))
    assert result.exit_code == 0, result.output
    assert "13 sends replayed: 7 would be blocked" in result.output
    assert "range velocity: 7" in result.output
    assert "estimated spend saved: 3.5 credits" in result.output


def test_guard_replay_ignores_sends_older_than_days(engine, db_url):
    for n in range(12):
        stored_send(engine, f"+2327612{n:04d}", NOW - timedelta(days=9, minutes=-n))
    result = run(db_url, "replay", "--days", "7")
    assert "0 sends replayed" in result.output


def test_list_edits_from_the_cli_and_a_file_are_audited(engine, db_url, tmp_path):
    assert run(db_url, "block", "+23276*", "--note", "pumping").exit_code == 0
    lists = tmp_path / "lists.txt"
    lists.write_text("# genuine testers\nallow 13800138000 QA phone\nallow nonsense\n")
    imported = run(db_url, "import", str(lists))
    assert "1 entries added" in imported.output and "line 3" in imported.output
    assert run(db_url, "unlist", "block", "+23276*").exit_code == 0
    shown = run(db_url, "lists").output
    assert "allow\t13800138000" in shown and "+23276*" not in shown
    with Session(engine) as session:
        changes = [
            (c.action, c.kind, c.value, c.via) for c in session.scalars(select(GuardListChange))
        ]
    assert changes == [
        ("add", "block", "+23276*", "cli"),
        ("add", "allow", "13800138000", "file"),
        ("remove", "block", "+23276*", "cli"),
    ]
