""" "When can they retry?" checked against the simulator: a send predicted to pass passes, one
predicted to be refused is refused with the predicted code, with the account limits set in
one place (Settings) for both."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.queries.lookup import accepted_history, next_accepted_send
from ingest.sending import send_test_call
from ingest.settings import Secret, Settings, SettingsError
from ingest.store.writes import code_digest, utcnow
from ingest.throttle import ThrottleLimits, rejection_code

# (number as typed, code): one number written two ways, so one history must count both.
SENDS = [
    ("15205201314", "1111"),
    ("+86 152 0520 1314", "2222"),
    ("15205201314", "3333"),  # a third send in the hour: code 22
    ("+8615205201314", "1111"),  # the first code again within 30 s: code 8
]


def test_predictions_match_what_the_simulator_does(make_simulator, engine, settings):
    simulator = make_simulator(limit_per_hour=2)
    settings = dataclasses.replace(
        settings, voice_url=simulator.url, apikey=Secret(simulator.apikey), limit_per_hour=2
    )
    limits = ThrottleLimits.of(settings)
    seen = []
    for mobile, code in SENDS:
        now = utcnow()
        digest = code_digest(settings.digest_key, "15205201314", code)
        predicted = rejection_code(accepted_history(engine, mobile, now), now, digest, limits)
        outcome = send_test_call(settings, engine, _as_sent(mobile), code, source="cli")
        seen.append((predicted, outcome.result_code))
    assert seen == [(None, 0), (None, 0), (22, 22), (8, 8)]
    waiting = next_accepted_send(engine, "152-0520-1314", now=utcnow(), limits=limits)
    assert set(waiting.codes) == {8, 22}


def _as_sent(mobile: str) -> str:
    from ingest.numbers import as_sent

    return as_sent(mobile) or mobile


def test_limits_are_none_unless_configured_as_the_simulator_does():
    settings = Settings.from_env({}, env_file=None)
    assert (settings.limit_per_hour, settings.limit_per_day) == (None, None)
    assert ThrottleLimits.of(settings) == ThrottleLimits()
    configured = Settings.from_env(
        {"VOICEWATCH_LIMIT_PER_HOUR": "5", "VOICEWATCH_LIMIT_PER_DAY": "10"}, env_file=None
    )
    assert (configured.limit_per_hour, configured.limit_per_day) == (5, 10)


@pytest.mark.parametrize("bad", ["0", "-1", "2.5", "five"])
def test_a_limit_that_is_not_a_count_is_refused(bad):
    with pytest.raises(SettingsError, match="VOICEWATCH_LIMIT_PER_HOUR"):
        Settings.from_env({"VOICEWATCH_LIMIT_PER_HOUR": bad}, env_file=None)


def test_make_run_gives_the_simulator_the_limits_in_force():
    from ingest.up import _simulate_command

    settings = Settings.from_env({"VOICEWATCH_LIMIT_PER_HOUR": "5"}, env_file=None)
    command = _simulate_command(settings, "127.0.0.1", 8800, "http://127.0.0.1:8000", True)
    assert command[-2:] == ["--limit-per-hour", "5"] and "--limit-per-day" not in command
