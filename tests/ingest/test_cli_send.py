"""`voicewatch send`: input checked before anything is sent or recorded, the same upstream
as the running stack, and one message per refusal in the viewer's language."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from ingest.cli import main
from ingest.settings import SIMULATOR_URL, Settings
from ingest.store.models import Send


def sends_stored(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Send)).scalar_one()


@pytest.fixture
def cli_env(monkeypatch, db_url, simulator):
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    monkeypatch.setenv("VOICEWATCH_DIGEST_KEY", "test-digest-key")
    monkeypatch.setenv("YUNPIAN_APIKEY", simulator.apikey)
    monkeypatch.setenv("YUNPIAN_VOICE_URL", simulator.url)
    monkeypatch.setenv("VOICEWATCH_LANG", "en")
    return simulator


@pytest.mark.parametrize(
    ("mobile", "code", "says"),
    [
        ("12345", "123456", "'12345' is not a phone number Yunpian calls"),
        ("15205201314", "12", "the code must be 4 to 6 digits, got 2"),
        ("11111111111", "1234", "is not a phone number Yunpian calls"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent_or_recorded(
    cli_env, engine, mobile, code, says
):
    result = CliRunner().invoke(main, ["send", mobile, "--code", code])
    assert result.exit_code == 2 and says in result.output
    assert sends_stored(engine) == 0
    assert cli_env.world.calls() == [] and cli_env.world.rejected() == []


def test_a_number_typed_with_spaces_is_sent_in_yunpians_form(cli_env, engine):
    result = CliRunner().invoke(main, ["send", "+86 152 0520 1314", "--code", "2468"])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        mobile, number = connection.execute(select(Send.mobile, Send.number)).one()
    assert (mobile, number) == ("15205201314", "+8615205201314")


def test_an_accepted_send_says_its_fee_in_the_billing_unit(cli_env, monkeypatch):
    result = CliRunner().invoke(main, ["send", "15205201314", "--code", "2468"])
    assert result.exit_code == 0 and result.output.rstrip().endswith(", fee 1 credits")
    monkeypatch.setenv("VOICEWATCH_FEE_UNIT", "yuan")
    monkeypatch.setenv("VOICEWATCH_LANG", "zh_CN")
    result = CliRunner().invoke(main, ["send", "15205201315", "--code", "2468"])
    assert result.exit_code == 0 and result.output.rstrip().endswith("计费 1 元")


def test_a_refusal_is_one_message_with_its_meaning_and_what_to_do(cli_env, monkeypatch):
    CliRunner().invoke(main, ["send", "15205201314", "--code", "2468"])
    result = CliRunner().invoke(main, ["send", "15205201314", "--code", "2468"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "refused: code 8: same content to the number within 30 s. The number has reached one "
        "of Yunpian's per-number limits: wait until the time shown, or send a new code if only "
        "the same code is refused."
    )
    monkeypatch.setenv("VOICEWATCH_LANG", "zh_CN")
    result = CliRunner().invoke(main, ["send", "15205201314", "--code", "2468"])
    assert "同一手机号30秒内重复提交相同的内容" in result.output
    assert result.output.count("同一手机号30秒内重复提交相同的内容") == 1


def test_with_no_apikey_commands_talk_to_the_local_simulator_not_yunpian():
    assert Settings.from_env({}, env_file=None).voice_url == SIMULATOR_URL
    with_key = Settings.from_env({"YUNPIAN_APIKEY": "k" * 32}, env_file=None)
    assert with_key.voice_url == "https://voice.yunpian.com"
    chosen = Settings.from_env({"YUNPIAN_VOICE_URL": "http://sim:9/"}, env_file=None)
    assert chosen.voice_url == "http://sim:9"
