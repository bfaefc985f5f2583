"""Rules measured on sends and reports: answer rate against the same hours on previous days,
reports missing, upstream errors, refusals by kind, fee spikes, hot numbers.

Plain functions of (connection, rule, now): SQL aggregation over `sends` and `reports`,
with `now` passed in so tests can set the clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import Connection, case, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from ingest.alerts.findings import Finding
from ingest.alerts.measure_account import aware
from ingest.alerts.rules import Rule, parse_duration
from ingest.numbers import mask
from ingest.store.models import PullRun, Report, Send


def _window(rule: Rule, now: datetime, days_back: int = 0) -> tuple[datetime, datetime]:
    end = now - timedelta(days=days_back)
    return end - timedelta(seconds=rule.window), end


def _group_column(rule: Rule) -> ColumnElement[str]:
    if rule.scope == "carrier":
        return Send.carrier
    if rule.scope == "province":
        return Send.province
    return literal("")


def _subject(rule: Rule, group: str) -> str:
    return f"{rule.scope}={group}" if rule.scope != "overall" else ""


def _example(sid: str | None, mobile: str | None) -> str | None:
    return f"sid {sid} → {mask(mobile)}" if sid else None


def _answer_counts(
    connection: Connection, rule: Rule, windows: Iterable[tuple[datetime, datetime]]
) -> dict[str, tuple[int, int, str | None, str | None]]:
    """Per group: (reported, answered, a failed sid, its number) over the windows."""
    group = _group_column(rule).label("grp")
    in_windows = or_(*(Send.sent_at.between(start, end) for start, end in windows))
    failed = Report.status != "SUCCESS"
    query = (
        select(
            group,
            func.count(Report.id),
            func.sum(case((Report.status == "SUCCESS", 1), else_=0)),
            func.max(case((failed, Send.sid))),
            func.max(case((failed, Send.mobile))),
        )
        .join(Report, Report.sid == Send.sid)
        .where(in_windows, Send.result_code == 0)
        .group_by(group)
    )
    return {row[0]: (row[1], row[2] or 0, row[3], row[4]) for row in connection.execute(query)}


def answer_rate(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Answered share of reported calls sent in the window, per subject, against the
    `baseline_window` (at least the window) up to the same time on each of the previous
    `baseline_days` days (or `fallback_baseline` when those hold fewer than `min_sample`
    reports). Fires `threshold` below the baseline. The baseline's window is longer because
    the current one is short to tell an outage soon: a baseline from a few dozen calls on one
    day swings by 10 points and more, and set off the carrier rule on normal traffic."""
    days = int(rule.param("baseline_days", 7))  # type: ignore[arg-type]
    fallback = float(rule.param("fallback_baseline", 0.78))  # type: ignore[arg-type]
    span = parse_duration(rule.param("baseline_window", "1h"), f"rule {rule.name!r}")
    span = timedelta(seconds=max(span, rule.window))
    past = [(end - span, end) for _, end in (_window(rule, now, d) for d in range(1, days + 1))]
    current = _answer_counts(connection, rule, [_window(rule, now)])
    history = _answer_counts(connection, rule, past)
    findings = []
    for group, (reported, answered, sid, mobile) in sorted(current.items()):
        past_reported, past_answered, _, _ = history.get(group, (0, 0, None, None))
        enough_history = past_reported >= max(rule.min_sample, 1)
        baseline = past_answered / past_reported if enough_history else fallback
        rate = answered / reported if reported else None
        enough = reported >= rule.min_sample
        low = rate is not None and rate < baseline - rule.threshold
        breached = enough and low
        findings.append(
            Finding(
                rule.name,
                _subject(rule, group),
                rate,
                baseline - rule.threshold,
                breached,
                reported,
                baseline,
                _example(sid, mobile) if breached else None,
                holds=low and not enough,
            )
        )
    return findings


def reports_missing(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Share of accepted sends, sent between `window` and `after` ago, with no report."""
    after = parse_duration(rule.param("after", "5m"), f"rule {rule.name!r} after")
    start, end = now - timedelta(seconds=rule.window), now - timedelta(seconds=after)
    missing = Report.id.is_(None)
    query = (
        select(
            func.count(Send.id),
            func.sum(case((missing, 1), else_=0)),
            func.max(case((missing, Send.sid))),
            func.max(case((missing, Send.mobile))),
        )
        .outerjoin(Report, Report.sid == Send.sid)
        .where(Send.sent_at.between(start, end), Send.result_code == 0, Send.sid.is_not(None))
    )
    accepted, absent, sid, mobile = connection.execute(query).one()
    share = (absent or 0) / accepted if accepted else None
    high = share is not None and share >= rule.threshold
    breached = accepted >= rule.min_sample and high
    example = _example(sid, mobile) if breached else None
    # A firing alert holds while too few sends say it is over and those look bad (as answer
    # rates do): at a window's edge the count drops under the minimum and comes back.
    values = (rule.name, "", share, rule.threshold, breached, accepted, None, example)
    return [Finding(*values, holds=high and not breached)]


def upstream_errors(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Share of sends with no answer or a 5xx, and of pull runs that failed, in the window."""
    start, end = _window(rule, now)
    trouble = or_(Send.http_status.is_(None), Send.http_status >= 500)
    sends, failed_sends, sid, mobile = connection.execute(
        select(
            func.count(Send.id),
            func.sum(case((trouble, 1), else_=0)),
            func.max(case((trouble, Send.sid))),
            func.max(case((trouble, Send.mobile))),
        ).where(Send.sent_at.between(start, end))
    ).one()
    runs, failed_runs = connection.execute(
        select(
            func.count(PullRun.id), func.sum(case((PullRun.error.is_not(None), 1), else_=0))
        ).where(PullRun.started_at.between(start, end))
    ).one()
    total = sends + runs
    share = ((failed_sends or 0) + (failed_runs or 0)) / total if total else None
    high = share is not None and share >= rule.threshold
    breached = total >= rule.min_sample and high
    example = _example(sid, mobile) if breached and sid else None
    # Holds as reports_missing does.
    values = (rule.name, "", share, rule.threshold, breached, total, None, example)
    return [Finding(*values, holds=high and not breached)]


def _refusal_count(
    connection: Connection, rule: Rule, windows: list[tuple[datetime, datetime]]
) -> tuple[int, str | None]:
    codes = [int(code) for code in rule.param("codes", [])]  # type: ignore[union-attr]
    conditions = [Send.result_code.in_(codes)]
    if "http_status" in rule.params:
        conditions.append(Send.http_status == int(rule.params["http_status"]))  # type: ignore[arg-type]
    in_windows = or_(*(Send.sent_at.between(start, end) for start, end in windows))
    count, mobile = connection.execute(
        select(func.count(Send.id), func.max(Send.mobile)).where(in_windows, *conditions)
    ).one()
    return count, mobile


def _sends(connection: Connection, windows: list[tuple[datetime, datetime]]) -> int:
    in_windows = or_(*(Send.sent_at.between(start, end) for start, end in windows))
    return connection.execute(select(func.count(Send.id)).where(in_windows)).scalar_one()


def _past_windows(connection: Connection, rule: Rule, now: datetime) -> list[tuple]:
    """The rule's window on each of the previous `baseline_days` days that voicewatch saw
    whole (its first send came before the window began): a baseline averages the days it
    was watching, not the days before it existed nor the part of one when it started."""
    days = int(rule.param("baseline_days", 7))  # type: ignore[arg-type]
    first = _first_send(connection)
    windows = [_window(rule, now, d) for d in range(1, days + 1)]
    return [window for window in windows if first is not None and first <= window[0]]


def _first_send(connection: Connection) -> datetime | None:
    """When voicewatch recorded its first send: it has watched only what came after."""
    return aware(connection.execute(select(func.min(Send.sent_at))).scalar_one())


def refusals(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Sends refused with one of the rule's `codes` in the window; with `baseline_factor`,
    also more than that many times the daily average of the same window before (on the days
    voicewatch saw whole), and never before those windows saw `min_history` sends (no history: no
    "above normal")."""
    count, mobile = _refusal_count(connection, rule, [_window(rule, now)])
    baseline = None
    limit = rule.threshold
    known = True
    if "baseline_factor" in rule.params:
        windows = _past_windows(connection, rule, now)
        past, _ = _refusal_count(connection, rule, windows) if windows else (0, None)
        baseline = past / max(len(windows), 1)
        factor = float(rule.params["baseline_factor"])  # type: ignore[arg-type]
        limit = max(rule.threshold, factor * baseline)
        min_history = int(rule.param("min_history", 100))  # type: ignore[arg-type]
        known = bool(windows) and _sends(connection, windows) >= min_history
    breached = known and count >= limit and count >= max(rule.min_sample, 1)
    example = f"refused call to {mask(mobile)}" if breached and mobile else None
    return [Finding(rule.name, "", float(count), limit, breached, count, baseline, example)]


def _fees(connection: Connection, windows: list[tuple[datetime, datetime]]) -> float:
    in_windows = or_(*(Send.sent_at.between(start, end) for start, end in windows))
    return connection.execute(
        select(func.coalesce(func.sum(Send.fee), 0.0)).where(in_windows)
    ).scalar_one()


def fee_spike(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Spend in the window against the daily average of the same window before (on the days
    voicewatch saw whole): fires above `threshold` times it (and at least `min_sample` spent). No
    history: never fires."""
    windows = _past_windows(connection, rule, now)
    spent = _fees(connection, [_window(rule, now)])
    baseline = _fees(connection, windows) / len(windows) if windows else 0.0
    limit = rule.threshold * baseline
    breached = baseline > 0 and spent >= rule.min_sample and spent > limit
    return [Finding(rule.name, "", spent, limit, breached, int(spent), baseline)]


def _hot_count(connection: Connection, per_number: int, start: datetime, end: datetime) -> int:
    hot = (
        select(Send.mobile)
        .where(Send.sent_at.between(start, end))
        .group_by(Send.mobile)
        .having(func.count(Send.id) >= per_number)
        .subquery()
    )
    return connection.execute(select(func.count()).select_from(hot)).scalar_one()


def hot_numbers(connection: Connection, rule: Rule, now: datetime) -> list[Finding]:
    """Numbers sent to `per_number` times or more in the window, against the window before:
    fires at `threshold` such numbers and twice as many as before, once voicewatch saw the
    whole window before and `min_history` sends in it (a fresh installation has no "before")."""
    per_number = int(rule.param("per_number", 5))  # type: ignore[arg-type]
    start, end = _window(rule, now)
    count = _hot_count(connection, per_number, start, end)
    before_window = (start - (end - start), start)
    before = _hot_count(connection, per_number, *before_window)
    min_history = int(rule.param("min_history", 100))  # type: ignore[arg-type]
    first = _first_send(connection)
    known = first is not None and first <= before_window[0]  # the window before seen whole
    known = known and _sends(connection, [before_window]) >= min_history
    breached = known and count >= rule.threshold and count >= 2 * before
    return [Finding(rule.name, "", float(count), rule.threshold, breached, count, float(before))]
