"""Building traffic straight into a real database for the alert rules to measure."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ingest.alerts.rules import Rule, load_rules
from ingest.store.models import PullRun, Report, Send

_sids = itertools.count()

CARRIERS = {"China Mobile": "Beijing", "China Unicom": "Chongqing", "China Telecom": "Guangdong"}


def default_rule(name: str, **changes: object) -> Rule:
    (rule,) = [rule for rule in load_rules() if rule.name == name]
    return replace(rule, **changes)


def add_calls(
    engine,
    at: datetime,
    count: int,
    answered: int,
    *,
    carrier: str = "China Mobile",
    province: str | None = None,
    reported: bool = True,
    result_code: int = 0,
    http_status: int | None = 200,
    fee: float = 1.0,
    mobile: str | None = None,
) -> list[str]:
    """`count` sends at `at` (spread over the next minute), `answered` of them answered."""
    sids = []
    with Session(engine) as session, session.begin():
        for i in range(count):
            sid = f"{next(_sids):032x}"
            sent = at + timedelta(seconds=60 * i / max(count, 1))
            accepted = result_code == 0
            session.add(
                Send(
                    sent_at=sent,
                    mobile=mobile or f"138{next(_sids) % 10**8:08d}",
                    code_digest="x",
                    kind="code",
                    result_code=result_code,
                    http_status=http_status,
                    fee=fee if accepted else 0,
                    count=1 if accepted else 0,
                    sid=sid if accepted else None,
                    source="relay",
                    carrier=carrier,
                    province=province or CARRIERS.get(carrier, "unknown"),
                )
            )
            if accepted and reported:
                ok = i < answered
                session.add(
                    Report(
                        sid=sid,
                        mobile="13800138000",
                        status="SUCCESS" if ok else "FAIL",
                        error_msg=None if ok else "Send Exception",
                        user_receive_time=sent + timedelta(seconds=20),
                        duration=12 if ok else 0,
                        via_pull=True,
                        first_seen=sent + timedelta(seconds=25),
                        last_seen=sent + timedelta(seconds=25),
                        carrier=carrier,
                        province=province or CARRIERS.get(carrier, "unknown"),
                    )
                )
            sids.append(sid)
    return sids


def add_pull_run(engine, at: datetime, error: str | None = None) -> None:
    with Session(engine) as session, session.begin():
        session.add(PullRun(started_at=at, finished_at=at + timedelta(seconds=1), error=error))
