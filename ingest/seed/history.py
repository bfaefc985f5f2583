"""Backfill realistic history into `sends` and `reports` (plus a little ingest history), so
the dashboard has something true-looking to show before real traffic arrives.

Everything is drawn from one `random.Random(seed)` relative to `now`, so a seed and a `now`
always give the same database.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING

import click
from sqlalchemy import Engine
from tqdm import tqdm

from ingest.i18n import N_, Language, cli_language
from ingest.numbers import describe
from ingest.seed.ingest_runs import ingest_history
from ingest.seed.summary import Incident, SeedSummary
from ingest.settings import Secret
from ingest.store.models import PullRun, RawBody
from ingest.store.writes import code_digest
from ingest.throttle import CHINA, EXAMPLE_LIMITS, AcceptedSend, in_quiet_hours, rejection_code
from ingest.yunpian.codes import lookup

if TYPE_CHECKING:
    from ingest.seed.live import LiveTraffic

# Real Chinese mobile prefixes per carrier, weighted roughly by subscriber share.
PREFIXES = {
    "China Mobile": "134 135 136 137 138 139 147 150 151 152 157 158 159 178 182 183 184 187 188 198",
    "China Unicom": "130 131 132 145 155 156 166 175 176 185 186",
    "China Telecom": "133 149 153 173 177 180 181 189 191 199",
}
CARRIER_SHARE = {"China Mobile": 0.57, "China Unicom": 0.23, "China Telecom": 0.20}
FOREIGN = ["+14155550{:03d}", "+44791112{:04d}", "+6591{:06d}", "+8529{:07d}", "+8190{:08d}"]
ANSWER_RATE = {"China Mobile": 0.88, "China Unicom": 0.84, "China Telecom": 0.81}
FOREIGN_ANSWER_RATE = 0.66
FAIL_REASONS = [  # (error_msg, weight) as Yunpian's reports word them
    ("无人接听", 34),
    ("用户拒接", 20),
    ("用户关机", 14),
    ("用户忙", 10),
    ("空号", 7),
    ("用户信号不佳、关机等", 8),
    ("停机", 5),
    ("Send Exception", 2),
]
INCIDENT_REASONS = [("用户信号不佳、关机等", 5), ("Send Exception", 3), ("无人接听", 2)]
# China-time hour -> relative volume; 0 covers the 22:00–07:30 quiet night.
HOURLY = [0, 0, 0, 0, 0, 0, 0, 0.4, 0.8, 1.2, 1.4, 1.3, 1.0, 1.0, 1.2, 1.25, 1.2, 1.1]
HOURLY += [1.0, 1.2, 1.4, 1.2, 0, 0]
WEEKDAY = [1.0, 1.0, 1.0, 1.0, 1.05, 0.8, 0.75]  # Monday first
SOURCES = [("relay", 95), ("cli", 3), ("dashboard", 2)]
ACTORS = {"relay": [None], "cli": ["ops-script"], "dashboard": ["li.wei", "zhang.min", "oncall"]}
CODE_FORMAT_DETAIL = "参数 code 格式不正确，code必须为4至6位阿拉伯数字"


@dataclass(frozen=True, slots=True)
class _Planned:
    at: datetime
    mobile: str
    code: str
    source: str
    actor: str | None


def seed(
    engine: Engine,
    days: int = 30,
    per_day: int = 2000,
    seed: int = 1,
    now: datetime | None = None,
    progress: bool = True,
    digest_key: str = "voicewatch-seed",
    language: Language | None = None,
    live: LiveTraffic | None = None,
) -> SeedSummary:
    """Write `days` of history ending at `now` (about `per_day` sends a weekday) and a
    couple of hours of pull runs and raw bodies; returns the counts written. With `live`,
    its last `live.span` is the live demo traffic's instead (`ingest.seed.live`)."""
    from ingest.seed.live import live_history
    from ingest.seed.write import write_rows

    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = now - timedelta(days=days)
    rng = random.Random(seed)
    summary = SeedSummary(start=start, end=now, incidents=_incidents(start, now))
    split = max(start, now - live.span) if live else now
    planned = [*_plan(rng, start, split, per_day), *_ongoing_abuse(rng, now)]
    plan = sorted(planned, key=lambda p: p.at)
    key = Secret(digest_key)
    sends, reports = _outcomes(rng, plan, now, summary, key)
    pieces = [(sends, reports)]
    if live:  # drawn a piece at a time as the pieces before are written
        pieces = chain(pieces, live_history(rng, split, now, live, summary, key))
    guess = int(live.rate_per_s * live.span.total_seconds() * 1.95) if live else 0
    label = (language or Language()).gettext("seeding")

    def ingest_rows(recent: list[dict]) -> list:  # pull runs and raw bodies of the last hours
        pull_runs, bodies = ingest_history(rng, recent, now)
        summary.pull_runs, summary.raw_bodies = len(pull_runs), len(bodies)
        bar.total = bar.n + len(pull_runs) + len(bodies)
        return [(PullRun.__table__, pull_runs), (RawBody.__table__, bodies)]

    with tqdm(total=len(sends) + len(reports) + guess, desc=label, disable=not progress) as bar:
        since = now - timedelta(hours=2)
        summary.numbers = write_rows(engine, pieces, ingest_rows, since, bar.update)
    return summary


def _incidents(start: datetime, now: datetime) -> list[Incident]:
    """Two carrier outages at fixed China-time hours, kept only if inside the range."""
    today = now.astimezone(CHINA).replace(hour=0, minute=0, second=0)
    two_days_ago, nine_days_ago = today - timedelta(days=2), today - timedelta(days=9)
    candidates = [
        Incident(
            "China Unicom", two_days_ago.replace(hour=14), two_days_ago.replace(hour=17), 0.28
        ),
        Incident(
            "China Telecom", nine_days_ago.replace(hour=9), nine_days_ago.replace(hour=11), 0.4
        ),
    ]
    return [i for i in candidates if start <= i.start and i.end <= now]


def _number_pool(rng: random.Random, size: int) -> list[str]:
    """Domestic mobiles with a known province (the geocoder lacks some prefixes)."""
    carriers = list(CARRIER_SHARE)
    weights = list(CARRIER_SHARE.values())
    pool: list[str] = []
    while len(pool) < size:
        prefix = rng.choice(PREFIXES[rng.choices(carriers, weights)[0]].split())
        mobile = prefix + f"{rng.randrange(10**8):08d}"
        if describe(mobile).province != "unknown":
            pool.append(mobile)
    return pool


def _new_code(rng: random.Random) -> str:
    return (
        str(rng.randrange(100000, 1000000))
        if rng.random() < 0.85
        else str(rng.randrange(1000, 10000))
    )


def _plan(rng: random.Random, start: datetime, now: datetime, per_day: int) -> Iterator[_Planned]:
    """Every send attempt, before throttling: daily and weekly rhythm, retries, abuse."""
    pool = _number_pool(rng, max(50, min(5000, per_day * 2)))
    norm = sum(HOURLY)
    names, weights = zip(*SOURCES, strict=True)
    hour = start.replace(minute=0, second=0)
    while hour < now:
        local = hour.astimezone(CHINA)
        expected = per_day * HOURLY[local.hour] / norm * WEEKDAY[local.weekday()]
        for _ in range(_count(rng, expected * rng.uniform(0.85, 1.15))):
            at = hour + timedelta(seconds=rng.uniform(0, 3600))
            source = rng.choices(names, weights)[0]
            yield from _user_sends(rng, at, rng.choice(pool), source)
        for _ in range(_count(rng, per_day * 0.02 / 24)):  # foreign numbers, any hour
            mobile = rng.choice(FOREIGN).format(rng.randrange(1000))
            yield _Planned(
                hour + timedelta(seconds=rng.uniform(0, 3600)),
                mobile,
                _new_code(rng),
                "relay",
                None,
            )
        if local.hour in (10, 15, 20) and rng.random() < 0.6:
            yield from _retry_loop(
                rng, hour + timedelta(minutes=rng.uniform(0, 50)), rng.choice(pool)
            )
        if local.hour == 11 and rng.random() < 0.5:
            yield from _bombing(rng, hour, rng.choice(pool))
        hour += timedelta(hours=1)


def _count(rng: random.Random, expected: float) -> int:
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


def _user_sends(rng: random.Random, at: datetime, mobile: str, source: str) -> Iterator[_Planned]:
    actor = rng.choice(ACTORS[source])
    code = _new_code(rng)
    if in_quiet_hours(at):
        return
    yield _Planned(at, mobile, code, source, actor)
    if rng.random() < 0.06:  # "I got no call": the app resends the same code, sometimes too soon
        yield _Planned(at + timedelta(seconds=rng.uniform(5, 90)), mobile, code, source, actor)


def _retry_loop(rng: random.Random, at: datetime, mobile: str) -> Iterator[_Planned]:
    """A client stuck retrying one code every few seconds: mostly codes 8 and 9."""
    code = _new_code(rng)
    for _ in range(rng.randrange(10, 25)):
        yield _Planned(at, mobile, code, "relay", None)
        at += timedelta(seconds=rng.uniform(3, 20))


def _bombing(rng: random.Random, hour: datetime, mobile: str) -> Iterator[_Planned]:
    """Someone pointing the login form at a victim's number: new codes, hitting 22 and 17."""
    for _ in range(rng.randrange(15, 30)):
        yield _Planned(
            hour + timedelta(seconds=rng.uniform(0, 3 * 3600)),
            mobile,
            _new_code(rng),
            "relay",
            None,
        )


def _ongoing_abuse(rng: random.Random, now: datetime) -> Iterator[_Planned]:
    """Trouble still under way at `now`, so the throttling page has something live to show:
    toll-fraud style pumping of a foreign number (no quiet hours abroad) and a retry loop."""
    victim = FOREIGN[1].format(rng.randrange(10000))
    for _ in range(24):
        at = now - timedelta(seconds=rng.uniform(60, 2 * 3600))
        yield _Planned(at, victim, _new_code(rng), "relay", None)
    yield from _retry_loop(rng, now - timedelta(minutes=4), FOREIGN[2].format(rng.randrange(10**6)))


def _balance_gap(now: datetime) -> tuple[datetime, datetime]:
    """Twenty minutes, five evenings ago, when the account ran dry (code 3)."""
    day = now.astimezone(CHINA).replace(hour=20, minute=0, second=0) - timedelta(days=5)
    return day, day + timedelta(minutes=20)


def _outcomes(rng, plan, now, summary, key) -> tuple[list[dict], list[dict]]:
    history: dict[str, list[AcceptedSend]] = defaultdict(list)
    info = {}
    gap_start, gap_end = _balance_gap(now)
    sends: list[dict] = []
    reports: list[dict] = []
    for p in plan:
        if not summary.start <= p.at < now or (
            in_quiet_hours(p.at) and not p.mobile.startswith("+")
        ):
            continue
        digest = code_digest(key, p.mobile, p.code)
        if p.mobile not in info:
            info[p.mobile] = describe(p.mobile)
        where = info[p.mobile]
        recent = [s for s in history[p.mobile] if p.at - s.sent_at < timedelta(days=1)]
        history[p.mobile] = recent
        if gap_start <= p.at < gap_end:
            code = 3
        elif p.source == "relay" and rng.random() < 0.003:
            code = 2
        else:
            code = rejection_code(recent, p.at, digest, EXAMPLE_LIMITS) or 0
        send = _send_row(rng, p, digest, code, where.carrier, where.province)
        sends.append(send)
        summary.sends += 1
        if code != 0:
            summary.rejected += 1
            summary.throttled += code in (8, 9, 17, 22)
            continue
        recent.append(AcceptedSend(p.at, digest))
        report = _report_row(rng, send, now, summary.incidents)
        summary.count_accepted(1.0, report)
        if report is not None:
            reports.append(report)
    return sends, reports


def _send_row(rng, p: _Planned, digest: str, code: int, carrier: str, province: str) -> dict:
    ok = code == 0
    return {
        "sent_at": p.at,
        "mobile": p.mobile,
        "code_digest": digest,
        "kind": "code",
        "result_code": code,
        "result_msg": lookup(code).msg,
        "result_detail": CODE_FORMAT_DETAIL if code == 2 else None,
        "http_status": 200 if ok else 400,
        "fee": 1.0 if ok else 0.0,
        "count": 1 if ok else 0,
        "sid": f"{rng.getrandbits(128):032x}" if ok else None,
        "uid": None,
        "display_num": None,
        "callback_url": None,
        "latency_ms": round(rng.lognormvariate(5.2, 0.35), 1),
        "source": p.source,
        "actor": p.actor,
        "carrier": carrier,
        "province": province,
    }


def _report_row(rng, send: dict, now: datetime, incidents: list[Incident]) -> dict | None:
    """The report for an accepted send, or None while the call is still under way."""
    received = send["sent_at"] + timedelta(seconds=rng.uniform(10, 60))
    carrier = send["carrier"]
    rate = ANSWER_RATE.get(carrier, FOREIGN_ANSWER_RATE)
    reasons = FAIL_REASONS
    for incident in incidents:
        if incident.covers(carrier, send["sent_at"]):
            rate, reasons = incident.answer_rate, INCIDENT_REASONS
    answered = rng.random() < rate
    via_push = rng.random() < 0.85
    via_pull = not via_push or rng.random() < 0.1
    first_seen = received + timedelta(seconds=rng.uniform(1, 6) if via_push else rng.uniform(2, 12))
    if first_seen > now:
        return None
    both = via_push and via_pull
    last_seen = min(now, first_seen + timedelta(seconds=rng.uniform(3, 30))) if both else first_seen
    texts, weights = zip(*reasons, strict=True)
    return {
        "sid": send["sid"],
        "mobile": send["mobile"],
        "uid": None,
        "status": "SUCCESS" if answered else "FAIL",
        "error_msg": None if answered else rng.choices(texts, weights)[0],
        "user_receive_time": received.replace(microsecond=0),
        "duration": rng.randrange(12, 36) if answered else 0,
        "via_push": via_push,
        "via_pull": via_pull,
        "deliveries": 2 if both else 1,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "carrier": carrier,
        "province": send["province"],
    }


@click.command("seed", help=N_("Backfill realistic send and report history into VOICEWATCH_DB."))
@click.option("--days", default=30, show_default=True, help=N_("Days of history to write."))
@click.option("--per-day", default=2000, show_default=True, help=N_("Sends on a typical weekday."))
@click.option("--seed", "seed_value", default=1, show_default=True, help=N_("Random seed."))
def seed_command(days: int, per_day: int, seed_value: int) -> None:
    from ingest.settings import Settings
    from ingest.store.engine import make_engine

    settings, language = Settings.from_env(), cli_language(dict(os.environ))
    engine = make_engine(settings.db_url)
    key = settings.digest_key.reveal()
    summary = seed(
        engine, days=days, per_day=per_day, seed=seed_value, digest_key=key, language=language
    )
    click.echo(
        language.gettext(
            "seeded {sends} sends ({accepted} accepted, {throttled} throttled), "
            "{answered} answered, {failed} failed, {pending} pending, fees {fees}"
        ).format(
            sends=summary.sends,
            accepted=summary.accepted,
            throttled=summary.throttled,
            answered=summary.answered,
            failed=summary.failed,
            pending=summary.pending,
            fees=f"{summary.fees:g}",
        )
    )
