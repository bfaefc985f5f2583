"""Ingest health: pull runs, push traffic, the raw inbox and its malformed and quarantined
bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, case, func, or_, select

from dashboard.queries._sql import (
    RAW,
    REPORTS,
    SENDS,
    bucket,
    buckets_to_time,
    frame,
    seconds_between,
    to_china,
)
from ingest.store.health import Problem, evaluate, read_signals
from ingest.store.inbox import MALFORMED, QUARANTINED
from ingest.store.models import PullRun, ViewerEvent

PULLS = PullRun.__table__
VIEWER_EVENTS = ViewerEvent.__table__


@dataclass(frozen=True)
class HealthSummary:
    """The on-call view of ingest over the last hour (malformed and quarantined bodies: last
    24 h)."""

    now: datetime
    last_pull_started: datetime | None
    last_pull_finished: datetime | None
    last_pull_error: str | None
    pulls_last_hour: int
    pull_errors_last_hour: int
    pulled_reports_last_hour: int
    push_bodies_last_hour: int
    pushed_reports_last_hour: int  # reports in push bodies: a report pushed and pulled is in both
    reports_stored_last_hour: int  # reports first stored in the last hour, each counted once
    sends_last_hour: int
    rejected_last_hour: int
    upstream_errors_last_hour: int  # sends Yunpian did not answer (unreachable) or answered 5xx
    malformed_last_24h: int  # bodies none of whose reports could be stored
    quarantined_last_24h: int  # bodies with some reports stored and the others refused
    pending_bodies: int
    last_report_seen: datetime | None
    mean_report_delay_s: float | None  # call end -> report stored, last hour
    problems: tuple[Problem, ...] = ()  # /healthz's verdict on what the database shows

    @property
    def pull_lag_s(self) -> float | None:
        """Seconds since the last pull run finished: how stale pulled reports can be."""
        if self.last_pull_finished is None:
            return None
        return max(0.0, (self.now - self.last_pull_finished).total_seconds())


def _count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def health_summary(
    engine: Engine, now: datetime, *, pull_interval: float = 5.0, disk_min_free_mb: float = 512.0
) -> HealthSummary:
    """Pull, push, send and inbox health as of `now`, and the problems `/healthz` would name
    from the same database (`ingest.store.health.evaluate`; failed writes only the running
    service has seen are not known here)."""
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    last_pull = select(PULLS.c.started_at, PULLS.c.finished_at, PULLS.c.error).order_by(
        PULLS.c.started_at.desc()
    )
    pulls = select(
        func.count(),
        _count_if(PULLS.c.error.is_not(None)),
        func.coalesce(func.sum(PULLS.c.reports), 0),
    ).where(PULLS.c.started_at >= hour_ago)
    push = select(func.count(), func.coalesce(func.sum(RAW.c.report_count), 0)).where(
        RAW.c.channel == "push", RAW.c.received_at >= hour_ago
    )
    no_answer = or_(SENDS.c.http_status.is_(None), SENDS.c.http_status >= 500)
    sends = select(func.count(), _count_if(SENDS.c.result_code != 0), _count_if(no_answer)).where(
        SENDS.c.sent_at >= hour_ago
    )
    refused = select(
        _count_if(RAW.c.parse_status == MALFORMED), _count_if(RAW.c.parse_status == QUARANTINED)
    ).where(RAW.c.parse_status.in_((MALFORMED, QUARANTINED)), RAW.c.received_at >= day_ago)
    pending = select(func.count()).where(RAW.c.parse_status == "pending")
    delay = seconds_between(engine, REPORTS.c.first_seen, REPORTS.c.user_receive_time)
    reports = select(func.count(), func.max(REPORTS.c.first_seen), func.avg(delay)).where(
        REPORTS.c.first_seen >= hour_ago
    )
    problems = evaluate(
        read_signals(engine, now),
        pull_interval=pull_interval,
        disk_min_free_bytes=int(disk_min_free_mb * 2**20),
    )
    with engine.connect() as conn:
        started, finished, error = conn.execute(last_pull.limit(1)).first() or (None, None, None)
        pull_count, pull_errors, pulled = conn.execute(pulls).one()
        push_count, pushed = conn.execute(push).one()
        send_count, rejected, upstream_errors = conn.execute(sends).one()
        stored, last_seen, mean_delay = conn.execute(reports).one()
        malformed, quarantined = conn.execute(refused).one()
        return HealthSummary(
            now=now,
            last_pull_started=started,
            last_pull_finished=finished,
            last_pull_error=error,
            pulls_last_hour=int(pull_count),
            pull_errors_last_hour=int(pull_errors),
            pulled_reports_last_hour=int(pulled),
            push_bodies_last_hour=int(push_count),
            pushed_reports_last_hour=int(pushed),
            reports_stored_last_hour=int(stored),
            sends_last_hour=int(send_count),
            rejected_last_hour=int(rejected),
            upstream_errors_last_hour=int(upstream_errors),
            malformed_last_24h=int(malformed),
            quarantined_last_24h=int(quarantined),
            pending_bodies=int(conn.execute(pending).scalar_one()),
            last_report_seen=last_seen,
            mean_report_delay_s=round(float(mean_delay), 1) if mean_delay is not None else None,
            problems=tuple(problems),
        )


def ingest_over_time(engine: Engine, since: datetime, grain: str = "minute") -> pd.DataFrame:
    """Raw bodies and the reports they carried per China-time bucket and channel:
    bucket, channel, bodies, reports."""
    when = bucket(engine, RAW.c.received_at, grain)
    stmt = (
        select(
            when.label("bucket"),
            RAW.c.channel,
            func.count().label("bodies"),
            func.coalesce(func.sum(RAW.c.report_count), 0).label("reports"),
        )
        .where(RAW.c.received_at >= since)
        .group_by(when, RAW.c.channel)
        .order_by(when)
    )
    return buckets_to_time(frame(engine, stmt))


def raw_inbox_counts(engine: Engine, since: datetime) -> pd.DataFrame:
    """Raw bodies since `since` by channel and parse status: channel, parse_status, bodies,
    reports, bytes."""
    stmt = (
        select(
            RAW.c.channel,
            RAW.c.parse_status,
            func.count().label("bodies"),
            func.coalesce(func.sum(RAW.c.report_count), 0).label("reports"),
            func.coalesce(func.sum(func.length(RAW.c.body)), 0).label("bytes"),
        )
        .where(RAW.c.received_at >= since)
        .group_by(RAW.c.channel, RAW.c.parse_status)
        .order_by(RAW.c.channel, RAW.c.parse_status)
    )
    return frame(engine, stmt)


def recent_pull_runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The newest pull runs: started_at, finished_at (China time), took_ms, pages, reports, error."""
    took = seconds_between(engine, PULLS.c.finished_at, PULLS.c.started_at) * 1000
    stmt = (
        select(
            PULLS.c.started_at,
            PULLS.c.finished_at,
            func.round(took).label("took_ms"),
            PULLS.c.pages,
            PULLS.c.reports,
            PULLS.c.error,
        )
        .order_by(PULLS.c.started_at.desc())
        .limit(limit)
    )
    return to_china(frame(engine, stmt), "started_at", "finished_at")


def malformed_bodies(engine: Engine, limit: int = 20, preview_bytes: int = 300) -> pd.DataFrame:
    """The newest raw bodies that could not be parsed: received_at (China time), channel,
    content_type, bytes, truncated, parse_error, preview (the body's head as text)."""
    stmt = (
        select(
            RAW.c.id,
            RAW.c.received_at,
            RAW.c.channel,
            RAW.c.content_type,
            func.length(RAW.c.body).label("bytes"),
            RAW.c.truncated,
            RAW.c.parse_error,
            func.substr(RAW.c.body, 1, preview_bytes).label("head"),
        )
        .where(RAW.c.parse_status == MALFORMED)
        .order_by(RAW.c.received_at.desc())
        .limit(limit)
    )
    df = frame(engine, stmt)
    df["preview"] = [bytes(h or b"").decode("utf-8", errors="replace") for h in df["head"]]
    return to_china(df.drop(columns="head"), "received_at")


def quarantined_bodies(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The newest raw bodies some of whose reports were refused (the others are stored):
    received_at (China time), channel, stored (reports stored from it), bytes, reasons (which
    reports were refused and why, as the raw inbox keeps them)."""
    stmt = (
        select(
            RAW.c.id,
            RAW.c.received_at,
            RAW.c.channel,
            RAW.c.report_count.label("stored"),
            func.length(RAW.c.body).label("bytes"),
            RAW.c.parse_error.label("reasons"),
        )
        .where(RAW.c.parse_status == QUARANTINED)
        .order_by(RAW.c.received_at.desc())
        .limit(limit)
    )
    return to_china(frame(engine, stmt), "received_at")


MANUAL_SOURCES = ("dashboard", "cli")


def manual_send_audit(engine: Engine, since: datetime, limit: int = 200) -> pd.DataFrame:
    """Calls people placed by hand (the send-test page, `voicewatch send`) since `since`,
    newest first: sent_at (China time), source, actor, mobile, result_code, result_msg, sid."""
    stmt = (
        select(
            SENDS.c.sent_at,
            SENDS.c.source,
            SENDS.c.actor,
            SENDS.c.mobile,
            SENDS.c.result_code,
            SENDS.c.result_msg,
            SENDS.c.sid,
        )
        .where(SENDS.c.source.in_(MANUAL_SOURCES), SENDS.c.sent_at >= since)
        .order_by(SENDS.c.sent_at.desc())
        .limit(limit)
    )
    return to_china(frame(engine, stmt), "sent_at")


def viewer_audit(engine: Engine, since: datetime, limit: int = 200) -> pd.DataFrame:
    """Logins, failed and refused logins, logouts and unmasks since `since`, newest first:
    at (China time), event, viewer, client."""
    stmt = (
        select(
            VIEWER_EVENTS.c.at,
            VIEWER_EVENTS.c.event,
            VIEWER_EVENTS.c.viewer,
            VIEWER_EVENTS.c.client,
        )
        .where(VIEWER_EVENTS.c.at >= since)
        .order_by(VIEWER_EVENTS.c.at.desc(), VIEWER_EVENTS.c.id.desc())
        .limit(limit)
    )
    return to_china(frame(engine, stmt), "at")
