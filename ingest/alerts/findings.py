"""What measuring a rule yields: one finding per subject with enough data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A rule's measurement for one subject ("" for the whole account, else
    "carrier=China Mobile", "province=Guangdong", ...). `breached` says whether the rule's
    condition holds; `example` is a masked example call ("sid … to 138****8000"). `holds`: too
    few calls to tell, but what there is still looks bad, so an active alert neither resolves
    nor clears on it (a window one call under the minimum sample would end an outage)."""

    rule: str
    subject: str
    value: float | None
    threshold: float
    breached: bool
    sample: int = 0
    baseline: float | None = None
    example: str | None = None
    holds: bool = False

    @property
    def subject_label(self) -> str:
        return self.subject.partition("=")[2] if self.subject else ""
