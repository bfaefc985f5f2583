"""What measuring a rule yields: one finding per subject with enough data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A rule's measurement for one subject ("" for the whole account, else
    "carrier=China Mobile", "province=Guangdong", ...). `breached` says whether the rule's
    condition holds; `example` is a masked example call ("sid … to 138****8000")."""

    rule: str
    subject: str
    value: float | None
    threshold: float
    breached: bool
    sample: int = 0
    baseline: float | None = None
    example: str | None = None

    @property
    def subject_label(self) -> str:
        return self.subject.partition("=")[2] if self.subject else ""
