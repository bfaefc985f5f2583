"""The alert loop: every interval, take the evaluation lease, read the balance, measure every
rule, move the states on and send what is due. `voicewatch alerts run` runs it.

Several loops may share one database (hosts on one PostgreSQL, or a second `alerts run`):
the lease row decides who evaluates, so each notification is sent once. The lease follows
the loops' clocks; hosts whose clocks disagree by more than the lease time can both evaluate.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest import logs
from ingest.alerts.balance import Balance, BalanceError, record_balance
from ingest.alerts.channels import Channels
from ingest.alerts.measure import measure
from ingest.alerts.messages import compose
from ingest.alerts.rules import Rule
from ingest.alerts.states import active_silences, advance, forget_measurements, unsent_events
from ingest.store.alert_models import AlertEvent, AlertLease

log = logging.getLogger(__name__)

LEASE = "evaluator"
MAX_ATTEMPTS = 20  # a message no channel takes for this many evaluations is given up
KEEP_MEASUREMENTS = timedelta(days=7)


def utc_now() -> datetime:
    return datetime.now(UTC)


def take_lease(engine: Engine, holder: str, now: datetime, seconds: float) -> bool:
    """Whether `holder` evaluates until now + `seconds`: it held the lease or it ran out."""
    try:
        with engine.begin() as connection:
            connection.execute(
                AlertLease.__table__.insert().values(name=LEASE, holder=holder, expires_at=now)
            )
    except IntegrityError:
        pass  # the row exists: the UPDATE below decides
    until = now + timedelta(seconds=seconds)
    with engine.begin() as connection:
        taken = connection.execute(
            update(AlertLease)
            .where(
                AlertLease.name == LEASE,
                or_(AlertLease.holder == holder, AlertLease.expires_at <= now),
            )
            .values(holder=holder, expires_at=until)
        )
        return taken.rowcount == 1


def release_lease(engine: Engine, holder: str, now: datetime) -> None:
    """Give the lease up (a clean stop), so another loop need not wait for it to expire."""
    with engine.begin() as connection:
        connection.execute(
            update(AlertLease)
            .where(AlertLease.name == LEASE, AlertLease.holder == holder)
            .values(expires_at=now)
        )


@dataclass
class TickResult:
    evaluated: bool
    events: int = 0
    sent: int = 0
    failed: int = 0


@dataclass
class AlertLoop:
    """Evaluates `rules` over `engine` and notifies `channels`; `balance` reads Yunpian's
    balance (None: not read), `clock` gives the time (aware UTC)."""

    engine: Engine
    rules: list[Rule]
    channels: Channels
    dashboard_url: str
    interval: float = 30.0
    balance: Callable[[], Balance] | None = None
    clock: Callable[[], datetime] = utc_now
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    def tick(self) -> TickResult:
        """One evaluation, when this loop holds the lease."""
        now = self.clock()
        # Long enough to outlast a slow evaluation, short enough for a crashed loop's
        # successor to take over within a minute.
        if not take_lease(self.engine, self.holder, now, min(max(3 * self.interval, 15.0), 60.0)):
            return TickResult(evaluated=False)
        reading = self._read_balance()
        with Session(self.engine) as session, session.begin():
            if reading:
                record_balance(session, reading, now)
            silences = active_silences(session, now)
            events = []
            for rule in self.rules:
                findings = measure(session.connection(), rule, now)
                events += advance(session, rule, findings, now, silences)
            forget_measurements(session, now - KEEP_MEASUREMENTS)
        sent, failed = self.deliver(now)
        return TickResult(True, len(events), sent, failed)

    def _read_balance(self) -> Balance | None:
        if self.balance is None:
            return None
        try:
            return self.balance()
        except BalanceError as error:
            logs.event(log, "balance_unreadable", logging.WARNING, error=str(error))
            return None

    def deliver(self, now: datetime) -> tuple[int, int]:
        """Send unsent events, one message per rule and event kind; (messages sent, failed).
        With no channel configured, events stay unsent (and show on the page)."""
        if not self.channels:
            return 0, 0
        by_name = {rule.name: rule for rule in self.rules}
        sent = failed = 0
        with Session(self.engine) as session, session.begin():
            events = [e for e in unsent_events(session, MAX_ATTEMPTS) if e.rule in by_name]
            events.sort(key=lambda e: (e.rule, e.event, e.id))
            for (name, kind), group in groupby(events, key=lambda e: (e.rule, e.event)):
                batch = list(group)
                message = compose(by_name[name], kind, batch, self.dashboard_url)
                ok = any(d.ok for d in self.channels.send(message))
                _mark(batch, now, ok)
                sent, failed = sent + ok, failed + (not ok)
                logs.event(
                    log,
                    "alert_sent" if ok else "alert_not_sent",
                    rule=name,
                    event=kind,
                    subjects=len(batch),
                )
        return sent, failed

    def run(self, stop: threading.Event | None = None) -> None:
        """Tick every `interval` seconds until `stop` is set; one failed tick stops nothing."""
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception as error:  # the database away for a moment, say
                    logs.event(log, "alert_tick_failed", logging.ERROR, error=type(error).__name__)
                stop.wait(self.interval)
        finally:
            with contextlib.suppress(Exception):
                release_lease(self.engine, self.holder, self.clock())


def _mark(events: list[AlertEvent], now: datetime, ok: bool) -> None:
    for event in events:
        event.attempts += 1
        if ok:
            event.notified_at = now
        else:
            event.error = "no channel took the message"
