"""The push worker: POSTs due reports to push addresses the way Yunpian does, retrying.

Report due-ness follows the world's clock (so a ManualClock drives it); the worker's own
pacing - how often it looks, and how long it waits before a retry - is real time, because it
paces real HTTP traffic to a real receiver.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx

from ingest.simulator.config import SimulatorConfig, seeded_random
from ingest.simulator.records import PushBatch
from ingest.simulator.world import World

log = logging.getLogger(__name__)

# Believed: Yunpian takes "SUCCESS" as the receiver's acknowledgement and, by report, "0" too.
ACKNOWLEDGEMENTS = frozenset({"SUCCESS", "0"})
FORM_TYPE = "application/x-www-form-urlencoded;charset=utf-8"


def push_body(reports: list[dict[str, object]]) -> str:
    """One push: form field `voice_status` holding the URL-encoded JSON array of reports."""
    voice_status = json.dumps(reports, ensure_ascii=False, separators=(",", ":"))
    return urlencode({"voice_status": voice_status}, encoding="utf-8")


def is_acknowledged(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.text.strip() in ACKNOWLEDGEMENTS


@dataclass(frozen=True, slots=True)
class Delivery:
    batch: PushBatch
    attempt: int = 1
    duplicate: bool = False  # a re-push made by the duplicate fault; never duplicated again


class PushWorker:
    """Looks for due reports every `push_poll_interval` s and pushes them per address."""

    def __init__(self, world: World, config: SimulatorConfig, client: httpx.AsyncClient) -> None:
        self.world = world
        self.config = config
        self.client = client
        self._rng = seeded_random(config.seed, "push")
        self._later: list[tuple[float, int, Delivery]] = []  # heap of (monotonic time, seq, …)
        self._seq = itertools.count()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the worker must outlive any one bad push
                log.exception("push worker tick failed")
            await asyncio.sleep(self.config.push_poll_interval)

    async def tick(self) -> None:
        """Push everything that is due now: new reports, retries and re-pushes."""
        batches = self.world.take_push_batches(self.config.push_batch_size)
        deliveries = [Delivery(batch) for batch in batches]
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            deliveries.append(heapq.heappop(self._later)[2])
        await asyncio.gather(*(self._deliver(d) for d in deliveries))

    def _schedule(self, delivery: Delivery, wait: float) -> None:
        heapq.heappush(self._later, (time.monotonic() + wait, next(self._seq), delivery))

    async def _deliver(self, delivery: Delivery) -> None:
        batch = delivery.batch
        if delivery.attempt == 1 and self._rng.random() < self.config.fault_drop_push:
            # Lost for good on Yunpian's side; the reports stay pullable.
            self.world.record_push_dropped(batch.sids)
            return
        reports = list(batch.reports)
        if self._rng.random() < self.config.fault_reorder:
            self._rng.shuffle(reports)
        acknowledged = await self._post(batch.url, reports)
        self.world.record_push(batch.sids, acknowledged=acknowledged)
        if acknowledged:
            self._maybe_duplicate(delivery)
        elif delivery.attempt < self.config.push_max_attempts:
            wait = self.config.push_retry_base * 2 ** (delivery.attempt - 1)
            self._schedule(Delivery(batch, delivery.attempt + 1, delivery.duplicate), wait)
        else:
            self.world.record_push_gave_up(batch.sids)

    async def _post(self, url: str, reports: list[dict[str, object]]) -> bool:
        try:
            response = await self.client.post(
                url, content=push_body(reports), headers={"Content-Type": FORM_TYPE}
            )
        except httpx.HTTPError as error:
            # Without the query: push addresses often carry a token there.
            log.info("push to %s failed: %s", urlsplit(url)._replace(query="").geturl(), error)
            return False
        return is_acknowledged(response)

    def _maybe_duplicate(self, delivery: Delivery) -> None:
        if delivery.duplicate or not self.config.fault_duplicate_push:
            return
        batch = delivery.batch
        chosen = [
            i
            for i in range(len(batch.sids))
            if self._rng.random() < self.config.fault_duplicate_push
        ]
        if chosen:
            again = PushBatch(
                batch.url, [batch.sids[i] for i in chosen], [batch.reports[i] for i in chosen]
            )
            self._schedule(Delivery(again, duplicate=True), self.config.push_retry_base)
