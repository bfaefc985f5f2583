"""Past one machine: two `voicewatch serve` processes on one PostgreSQL share the guard's
counters, so a pumping burst split between them is stopped as if it hit one relay."""

from __future__ import annotations

import os
from contextlib import ExitStack

import httpx
import pytest

from ingest.guard.live import BLOCKED_CODE
from ingest.store.engine import make_engine
from tests.ingest.guard.support import velocity_rules
from tests.servers import free_port, ingest_process

RANGE_LIMIT = 5  # the default range rule: 5 distinct numbers per 8-digit prefix in 10 minutes


@pytest.mark.postgres
def test_a_burst_split_across_two_relays_is_seen_whole(pg_url, simulator, tmp_path):
    make_engine(pg_url).dispose()  # the schema, before two processes race to create it
    env = os.environ | {
        "VOICEWATCH_DB": pg_url,
        "VOICEWATCH_DIGEST_KEY": "test-digest-key",
        "YUNPIAN_VOICE_URL": simulator.url,
        "VOICEWATCH_GUARD": velocity_rules(tmp_path),
        "VOICEWATCH_GUARD_BUDGET_MS": "2000",  # the shared counters are tested, not the budget
        "PYTHONPATH": os.getcwd(),
    }
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        for port in ports:
            stack.enter_context(ingest_process(env, port))
        codes = []
        for n in range(12):  # alternate relays: each alone sees only 6 numbers of the range
            answer = httpx.post(
                f"http://127.0.0.1:{ports[n % 2]}/v2/voice/send.json",
                data={
                    "apikey": simulator.apikey,
                    "mobile": f"+2327612{n:04d}",
                    "code": f"{1000 + n}",
                },
            )
            codes.append(answer.json().get("code", 0))
    assert codes[:RANGE_LIMIT] == [0] * RANGE_LIMIT
    assert codes[RANGE_LIMIT:] == [BLOCKED_CODE] * (12 - RANGE_LIMIT)
