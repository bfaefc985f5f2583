"""The guard fails open: its database locked or broken never refuses or holds a send beyond
its budget; the send goes out and the failure is counted."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import text

from tests.servers import wait_until

FORM = {"mobile": "15205201314", "code": "2468"}


def failures(relay_url: str, kind: str) -> float:
    metrics = httpx.get(f"{relay_url}/metrics").text
    line = f'voicewatch_guard_failures_total{{kind="{kind}"}}'
    return sum(float(row.split()[-1]) for row in metrics.splitlines() if row.startswith(line))


@pytest.fixture
def postgres_only(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite in WAL mode never blocks the guard's reads: it reads, never writes")


def test_guard_table_locked_the_send_goes_out_within_the_budget(
    simulator, make_ingest, engine, postgres_only
):
    relay = make_ingest(voice_url=simulator.url, store_wait=10.0, guard_budget=0.05)
    httpx.post(f"{relay.url}/v2/voice/send.json", data={**FORM, "apikey": simulator.apikey})
    with engine.connect() as blocker, blocker.begin():
        # A migration or a long maintenance job holding the table: the guard's read waits.
        blocker.execute(text("LOCK TABLE guard_attempts IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        answer = httpx.post(
            f"{relay.url}/v2/voice/send.json",
            data={"apikey": simulator.apikey, "mobile": "15205201315", "code": "1357"},
            timeout=20,
        )
        elapsed = time.monotonic() - started
        assert answer.json().get("code", 0) == 0 and "sid" in answer.json()
        # The lock would hold the guard as long as it lasts; the send waited its 0.05 s budget.
        assert elapsed < 3.0
        assert wait_until(lambda: failures(relay.url, "timeout") >= 1, 10)


def test_guard_table_gone_the_send_goes_out_and_the_error_is_counted(
    simulator, make_ingest, engine
):
    # A budget the error comes well within (a first PostgreSQL connection can take 50 ms).
    relay = make_ingest(voice_url=simulator.url, guard_budget=2.0)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE guard_attempts"))
    answer = httpx.post(
        f"{relay.url}/v2/voice/send.json", data={**FORM, "apikey": simulator.apikey}
    )
    assert answer.status_code == 200 and "sid" in answer.json()
    assert failures(relay.url, "error") == 1
