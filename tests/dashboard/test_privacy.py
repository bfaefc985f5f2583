"""Who may see full numbers, and masking in tables."""

from __future__ import annotations

import pandas as pd

from dashboard.privacy import can_unmask, mask_numbers, show_number
from ingest.settings import Settings


def settings(**env: str) -> Settings:
    return Settings.from_env({"VOICEWATCH_DIGEST_KEY": "k", **env}, env_file=None)


def test_only_the_configured_unmask_password_unmasks():
    configured = settings(VOICEWATCH_UNMASK_PASSWORD="open-sesame")
    assert can_unmask(configured, "open-sesame")
    assert not can_unmask(configured, "open-sesame ")
    assert not can_unmask(configured, "")
    assert not can_unmask(configured, None)


def test_nobody_unmasks_when_no_password_is_configured():
    assert not can_unmask(settings(), "")
    assert not can_unmask(settings(), "anything")


def test_tables_are_masked_unless_unmasked():
    df = pd.DataFrame({"mobile": ["15205201314", "+6591234567"], "sid": ["a", "b"]})
    assert mask_numbers(df, False)["mobile"].tolist() == ["152****1314", "+659***4567"]
    assert mask_numbers(df, True)["mobile"].tolist() == ["15205201314", "+6591234567"]
    assert df["mobile"].iloc[0] == "15205201314"  # the caller's frame is untouched
    assert show_number("15205201314", False) == "152****1314"
