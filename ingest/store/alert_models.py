"""The alerts' tables: rule states, their events (what was or is to be notified), measured
values for the charts, silences, Yunpian balance readings and the evaluation lease.

Kept beside models.py on the same metadata; migration 0005 creates them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ingest.store.models import Base, Id, UTCDateTime


class AlertState(Base):
    """Where one rule stands for one subject ("" overall, "carrier=China Mobile", ...)."""

    __tablename__ = "alert_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16))  # pending | firing | resolved
    value: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    sample: Mapped[int] = mapped_column(Integer, default=0)
    example: Mapped[str | None] = mapped_column(Text)  # a masked example call, as text
    since: Mapped[datetime] = mapped_column(UTCDateTime)  # the condition began to hold
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # firing or repeat
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("rule", "subject"),)


class AlertEvent(Base):
    """A state change worth telling: firing, repeat or resolved. `notified_at` stays empty
    until a channel took it (or forever, when silenced)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160))
    event: Mapped[str] = mapped_column(String(16))  # firing | repeat | resolved
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    sample: Mapped[int] = mapped_column(Integer, default=0)
    example: Mapped[str | None] = mapped_column(Text)
    silenced: Mapped[bool] = mapped_column(default=False)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # the last channel failure, masked


class AlertMeasurement(Base):
    """A rule's measured value, baseline and threshold at one evaluation, for the chart."""

    __tablename__ = "alert_measurements"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160))
    value: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    sample: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_alert_measurements_rule_at", "rule", "at"),)


class AlertSilence(Base):
    """Notifications for a rule (one subject, or all when `subject` is "") held back until
    `ends_at`; who set and who lifted it are kept (the audit)."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160), default="")
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BalanceReading(Base):
    """Yunpian's account balance as user/get.json answered it."""

    __tablename__ = "balance_readings"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    balance: Mapped[float] = mapped_column(Float)
    alarm_balance: Mapped[float | None] = mapped_column(Float)


class AlertLease(Base):
    """Who evaluates the rules until `expires_at`: one row per lease, taken by an atomic
    UPDATE, so several alert loops on one database evaluate and notify once."""

    __tablename__ = "alert_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
