"""Who may see full phone numbers, and masking them everywhere else."""

from __future__ import annotations

import secrets

import pandas as pd

from ingest.numbers import mask
from ingest.settings import Settings

NUMBER_COLUMNS = ("mobile",)


def can_unmask(settings: Settings, entered: str | None) -> bool:
    """Whether a viewer who typed `entered` may see full numbers. Nobody may when no unmask
    password is configured: masking is the safe default for support screens."""
    if not settings.unmask_password or not entered:
        return False
    return secrets.compare_digest(entered, settings.unmask_password.reveal())


def show_number(mobile: str | None, unmasked: bool) -> str:
    """`mobile` as this viewer may see it."""
    return (mobile or "") if unmasked else mask(mobile)


def mask_numbers(df: pd.DataFrame, unmasked: bool, columns=NUMBER_COLUMNS) -> pd.DataFrame:
    """A copy of `df` with its number columns masked unless the viewer may unmask."""
    if unmasked:
        return df
    df = df.copy()
    for column in columns:
        if column in df:
            df[column] = df[column].map(mask)
    return df
