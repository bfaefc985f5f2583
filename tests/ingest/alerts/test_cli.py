"""`voicewatch alerts run --once | list | test` as an operator types them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.store.engine import make_engine
from tests.ingest.alerts.support import add_calls
from tests.servers import free_port

TOKEN = "c0ffee00c0ffee00c0ffee00"


@pytest.fixture
def env(tmp_path, receiver) -> dict[str, str]:
    return {
        "VOICEWATCH_DB": f"sqlite:///{tmp_path / 'cli.db'}",
        "VOICEWATCH_DIGEST_KEY": "k",
        "YUNPIAN_VOICE_URL": f"http://127.0.0.1:{free_port()}",  # balance unreadable: fine
        "VOICEWATCH_ALERT_URLS": f"json://{receiver.host}/hook?token={TOKEN}",
    }


def voicewatch(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["alerts", *args], env=env, catch_exceptions=False)


def test_alerts_test_reaches_every_channel_and_shows_them_masked(env, receiver):
    result = voicewatch(env, "test")
    assert result.exit_code == 0, result.output
    assert f"sent: json://{receiver.host}/***" in result.output and TOKEN not in result.output
    assert len(receiver.received) == 1


def test_alerts_test_without_channels_says_what_to_set(env):
    result = voicewatch({**env, "VOICEWATCH_ALERT_URLS": ""}, "test")
    assert result.exit_code == 2 and "VOICEWATCH_ALERT_URLS" in result.output


def test_run_once_fires_and_list_shows_it(env, receiver):
    engine = make_engine(env["VOICEWATCH_DB"])
    add_calls(engine, datetime.now(UTC) - timedelta(minutes=1), 40, 2, carrier="China Mobile")
    assert voicewatch(env, "run", "--once").exit_code == 0
    assert any("China Mobile" in text for text in receiver.texts())
    listed = voicewatch(env, "list").output
    assert "answer_rate_drop_carrier" in listed and "FIRING carrier=China Mobile: 5.0%" in listed
    assert TOKEN not in listed


def test_a_broken_rules_file_is_a_usage_error(env, tmp_path):
    rules = tmp_path / "alerts.toml"
    rules.write_text("[rules.x]\nkind = 'nonsense'\nthreshold = 1\n")
    result = voicewatch({**env, "VOICEWATCH_ALERTS": str(rules)}, "list")
    assert result.exit_code == 2 and "kind must be one of" in result.output
