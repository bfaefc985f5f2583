"""Who may see full phone numbers, and masking them everywhere else."""

from __future__ import annotations

import secrets

import pandas as pd

from ingest.numbers import mask, mask_in_text
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


def show_text(text: str | None, unmasked: bool) -> str:
    """Free text (an error message, a result detail, a body preview) as this viewer may see
    it: every phone number in it masked unless the viewer may unmask."""
    return (text or "") if unmasked else mask_in_text(text)


def mask_numbers(df: pd.DataFrame, unmasked: bool, columns=NUMBER_COLUMNS) -> pd.DataFrame:
    """A copy of `df` with its number columns masked, and the numbers inside its other text
    columns too, unless the viewer may unmask."""
    if unmasked:
        return df
    df = df.copy()
    for column in df.columns:
        if column in columns:
            df[column] = df[column].map(mask)
        elif df[column].dtype == object or pd.api.types.is_string_dtype(df[column]):
            df[column] = df[column].map(_mask_cell)
    return df


def _mask_cell(value: object) -> object:
    return mask_in_text(value) if isinstance(value, str) else value
