"""The guard as the relay asks it: one decision per send, within a time budget, failing open.

Any error inside the guard (a bug, its database locked or down) and any decision slower than
the budget lets the send go out: the failure is counted (`on_failure`) and logged, never
turned into a refusal or a wait longer than the budget.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import Engine

from ingest import logs
from ingest.guard.config import OFF, GuardConfig
from ingest.guard.counters import Counters, MemoryCounters, combined
from ingest.guard.lists import load_lists
from ingest.guard.recorder import AttemptRecorder
from ingest.guard.rules import Attempt, Decision, Lists, Recent, attempt_for, decide
from ingest.numbers import looks_like_mobile

log = logging.getLogger(__name__)

BUDGET = 0.05  # seconds a decision may take before the send goes out without one
LISTS_TTL = 2.0  # seconds the allow and block lists are kept before being read again
WORKERS = 4  # decisions in flight; past them a send waits its budget and goes out

# The refusal's answer: HTTP 400 in Yunpian's form with a code outside Yunpian's table (its
# codes run -57..-1 and 1..~60; -900 is the relay's "unknown outcome"). The official SDKs
# decide on `code` alone, so any code other than 0 is a failed send to them, and callers
# that retry Yunpian's transient codes (-5, -50, -51, -53) do not retry this one.
BLOCKED_STATUS = 400
BLOCKED_CODE = -901
BLOCKED_MSG = "发送被风控拦截 (blocked by the voicewatch guard)"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guard's answer for one send: its decision, when, and why it failed open if it did."""

    decision: Decision
    at: datetime
    failure: str | None = None

    @property
    def blocked(self) -> bool:
        return self.failure is None and self.decision.blocked


def blocked_text(decision: Decision) -> str:
    """What a refused send's record says: "blocked by guard: <rule>, <mode>"."""
    return f"blocked by guard: {decision.rule}, {decision.mode}"


CONSISTENT_READS = 3  # then a record committed meanwhile may count twice: towards refusing


class Guard:
    """Decides each relayed send against `config`, keeping its counters in `engine`."""

    def __init__(
        self,
        engine: Engine,
        config: GuardConfig,
        budget: float = BUDGET,
        on_failure: Callable[[str], None] = lambda kind: None,
        on_decision: Callable[[Decision], None] = lambda decision: None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.budget = budget
        self.on_failure = on_failure
        self.on_decision = on_decision
        self.counters = Counters()
        self.recorder = AttemptRecorder(engine, on_failure)
        self.on = any(getattr(config, f.name).mode != OFF for f in fields(config))
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="guard")
        self._lists: tuple[float, Lists] = (float("-inf"), Lists())
        self._lists_lock = threading.Lock()
        self._deciding = threading.Lock()

    async def check(self, mobile: str, app: str, at: datetime | None = None) -> Verdict:
        """The decision for a send to `mobile` asked by `app`; never an error, never late."""
        at = at or datetime.now(UTC)
        if not self.on or not looks_like_mobile(mobile):  # off, or Yunpian refuses it for nothing
            return Verdict(Decision(), at)
        abandoned = threading.Event()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._pool, self.decide_now, mobile, app, at, abandoned
            )
            async with asyncio.timeout(self.budget):
                decision = await future
        except Exception as error:  # fails open: see the module docstring
            abandoned.set()
            kind = "timeout" if isinstance(error, TimeoutError) else "error"
            self.on_failure(kind)
            logs.event(
                log, "guard.failed_open", logging.WARNING, kind=kind, error=type(error).__name__
            )
            return Verdict(Decision(), at, failure=kind)
        self.on_decision(decision)
        return Verdict(decision, at)

    def decide_now(
        self, mobile: str, app: str, at: datetime, abandoned: threading.Event | None = None
    ) -> Decision:
        """Decide from the committed and the pending counts, and hand the record to the
        recorder (blocking: called on the guard's threads)."""
        attempt = attempt_for(mobile, app, at, self.config)
        lists = self.lists()
        # One decision at a time in this process: two sends to one range decided together
        # would both see the count before the other and both pass.
        with self._deciding:
            stored, pending = self._counts(attempt)
            recent = combined(stored, pending.recent(attempt, self.config))
            decision = decide(attempt, recent, self.config, lists)
            # A decision the relay stopped waiting for was not applied: the send went out.
            passed = not decision.blocked or bool(abandoned and abandoned.is_set())
            self.recorder.add(attempt, decision, passed)
        return decision

    def _counts(self, attempt: Attempt) -> tuple[Recent, MemoryCounters]:
        """The committed counts and the pending ones, read so that a record the recorder
        commits meanwhile is not counted in both (tried again, a few times at most)."""
        for _ in range(CONSISTENT_READS):
            before = self.recorder.commits
            pending = self.recorder.pending()
            with self.engine.connect() as connection:
                stored = self.counters.recent(connection, attempt, self.config)
            if before % 2 == 0 and self.recorder.commits == before:
                break
        return stored, pending

    def lists(self) -> Lists:
        """The allow and block lists, read again once LISTS_TTL has passed."""
        with self._lists_lock:
            read_at, lists = self._lists
            if time.monotonic() - read_at < LISTS_TTL:
                return lists
        lists = load_lists(self.engine)
        with self._lists_lock:
            self._lists = (time.monotonic(), lists)
        return lists

    def close(self) -> None:
        """Stop deciding; write what the recorder holds."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.recorder.close()
