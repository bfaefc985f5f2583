"""VOICEWATCH_FEE_UNIT: what Yunpian bills this account in, read once with the settings."""

from __future__ import annotations

import pytest

from ingest.settings import Settings, SettingsError


def test_fees_are_credits_unless_told_otherwise():
    assert Settings.from_env({}, env_file=None).fee_unit == "credits"
    assert Settings.from_env({"VOICEWATCH_FEE_UNIT": " Yuan "}, env_file=None).fee_unit == "yuan"


def test_an_unknown_fee_unit_is_refused_with_its_value():
    with pytest.raises(SettingsError, match="VOICEWATCH_FEE_UNIT='rmb'"):
        Settings.from_env({"VOICEWATCH_FEE_UNIT": "rmb"}, env_file=None)
