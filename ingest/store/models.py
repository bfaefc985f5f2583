"""The schema: every table voicewatch keeps, in one place (Alembic migrates from here)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ingest.numbers import storage_key
from ingest.store.failure_rollup import REASON_CHARS


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: voicewatch stores aware UTC times only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


# Stable constraint names, so Alembic migrations are the same on every dialect.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# What became of a send (`Send.state`), as every page and `voicewatch lookup` shows it.
ACCEPTED = "accepted"  # Yunpian answered with a sid
JOINED = "accepted (joined)"  # the answer was lost; a report for the number joined it later
UNKNOWN = "unknown"  # sent, no readable answer: the call may have been placed
NOT_SENT = "not sent"  # the request provably never left (connect refused or timed out)
REJECTED = "rejected"  # Yunpian answered with an error code

NOT_SENT_CODE = -50  # Yunpian's "unknown error", kept for a send that never left


def _number_of_mobile(context) -> str | None:
    """A row's canonical number, from its mobile, whichever way it is inserted."""
    mobile = context.get_current_parameters().get("mobile")
    return storage_key(mobile) if mobile else None


class Send(Base):
    """One attempt to have Yunpian call a number: accepted (with a sid), rejected, never sent,
    or of unknown outcome (`result_code` None: sent, and no answer could be read)."""

    __tablename__ = "sends"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    mobile: Mapped[str] = mapped_column(String(32))  # as Yunpian was sent it
    # The canonical number (E.164, ingest.numbers.canonical) a number's history is kept by.
    number: Mapped[str | None] = mapped_column(String(32), default=_number_of_mobile)
    code_digest: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256(key, mobile:code)
    kind: Mapped[str] = mapped_column(String(16), default="code")  # code | notify
    # Yunpian's `code`; 0 = OK; None = unknown outcome (no answer read, the call may be placed)
    result_code: Mapped[int | None] = mapped_column(Integer, index=True)
    result_msg: Mapped[str | None] = mapped_column(Text)
    result_detail: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)  # None: no answer (unreachable)
    fee: Mapped[float] = mapped_column(Float, default=0)
    count: Mapped[int] = mapped_column(Integer, default=0)
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    uid: Mapped[str | None] = mapped_column(String(64))
    display_num: Mapped[str | None] = mapped_column(String(32))
    callback_url: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), index=True)  # relay | dashboard | cli | seed
    actor: Mapped[str | None] = mapped_column(String(128))  # who sent it, when known
    carrier: Mapped[str] = mapped_column(String(32))
    province: Mapped[str] = mapped_column(String(64))
    # When an unknown send was joined to the report of its number (ingest/store/outbox.py).
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # A number's sends by time, with their codes so that counting a number's distinct
        # codes reads the index alone (Throttling's listed numbers: 0.4 → 0.05 s over 30 days
        # at 10 M reports on PostgreSQL); it serves whatever looks a number up (migration 0012).
        Index("ix_sends_mobile_sent_at_code", "mobile", "sent_at", "code_digest"),
        Index("ix_sends_number_sent_at", "number", "sent_at"),
        Index("ix_sends_result_code_sent_at", "result_code", "sent_at"),  # throttle rejections
    )

    @property
    def state(self) -> str:
        """accepted, accepted (joined), unknown, not sent or rejected."""
        if self.result_code is None:
            return UNKNOWN
        if self.result_code == 0:
            return JOINED if self.joined_at is not None else ACCEPTED
        if self.http_status is None and self.result_code == NOT_SENT_CODE:
            return NOT_SENT
        return REJECTED


class Report(Base):
    """Yunpian's delivery report for one sid, however (and however often) it reached us."""

    __tablename__ = "reports"
    # The failed calls' sids, for the Failures page's joins on PostgreSQL (migrations 0010,
    # 0011: not error_msg, which from outside can be longer than an index entry holds); SQLite
    # joins by sid through its unique index and needs none.
    __table_args__ = (
        Index("ix_reports_failed", "sid", postgresql_where=text("status = 'FAIL'")).ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    mobile: Mapped[str] = mapped_column(String(32), index=True)
    number: Mapped[str | None] = mapped_column(String(32), index=True, default=_number_of_mobile)
    uid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # SUCCESS | FAIL
    error_msg: Mapped[str | None] = mapped_column(Text)
    user_receive_time: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    duration: Mapped[int] = mapped_column(Integer, default=0)
    via_push: Mapped[bool] = mapped_column(default=False)
    via_pull: Mapped[bool] = mapped_column(default=False)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)  # times it reached us
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    carrier: Mapped[str] = mapped_column(String(32))
    province: Mapped[str] = mapped_column(String(64))


class RawBody(Base):
    """Every pulled or pushed body exactly as received, kept before it is parsed."""

    __tablename__ = "raw_inbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(8))  # push | pull
    content_type: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    truncated: Mapped[bool] = mapped_column(default=False)  # over the size limit: head kept
    parse_status: Mapped[str] = mapped_column(String(16), index=True)  # pending|ok|malformed
    parse_error: Mapped[str | None] = mapped_column(Text)
    report_count: Mapped[int] = mapped_column(Integer, default=0)


class PullRun(Base):
    """One pass of the pull loop, for the health page: when, how much, what went wrong."""

    __tablename__ = "pull_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class _TrafficRollup:
    """Sends (joined with their report by sid) summed per bucket × carrier × province × source.

    Kept exact by database triggers (see ingest/store/rollups.py) on every write to sends or reports,
    in the writing transaction. `at` is the bucket's start, naive UTC."""

    # Clustered by the key on SQLite too, so a time range is one contiguous read.
    __table_args__ = ({"sqlite_with_rowid": False},)

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    province: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    sends: Mapped[int] = mapped_column(BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)  # result_code 0
    throttled: Mapped[int] = mapped_column(BigInteger, default=0)  # 8, 9, 17, 22
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)  # result_code != 0
    fees: Mapped[float] = mapped_column(Float, default=0)
    reported: Mapped[int] = mapped_column(BigInteger, default=0)  # a report arrived
    answered: Mapped[int] = mapped_column(BigInteger, default=0)  # report SUCCESS
    failed: Mapped[int] = mapped_column(BigInteger, default=0)  # report FAIL
    answered_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    answered_duration: Mapped[int] = mapped_column(BigInteger, default=0)  # sum, answered only


class TrafficMinute(_TrafficRollup, Base):
    __tablename__ = "traffic_minutes"


class TrafficHour(_TrafficRollup, Base):
    __tablename__ = "traffic_hours"


class TrafficDay(_TrafficRollup, Base):
    """Days are China days: `at` is 16:00 UTC of the day before."""

    __tablename__ = "traffic_days"


class _AnswerDelayRollup:
    """Answered calls per bucket × carrier × send→answer delay in tenths of a second: the
    histogram the median and p95 are read from (exact at the 0.1 s they are shown with)."""

    __table_args__ = ({"sqlite_with_rowid": False},)

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    delay_ds: Mapped[int] = mapped_column(Integer, primary_key=True)
    answered: Mapped[int] = mapped_column(BigInteger, default=0)


class AnswerDelayHour(_AnswerDelayRollup, Base):
    __tablename__ = "answer_delay_hours"


class AnswerDelayDay(_AnswerDelayRollup, Base):
    __tablename__ = "answer_delay_days"


class NumberDay(Base):
    """Sends per China day × number (as sent) × carrier × province × source: what Throttling's
    "called suspiciously often" ranks, read as a day's few rows a number instead of every send.
    Kept exact by triggers on sends and reports (ingest/store/number_rollup.py); `at` as in
    TrafficDay."""

    __tablename__ = "number_days"
    __table_args__ = (
        Index("ix_number_days_mobile_at", "mobile", "at"),  # the listed numbers' details
        {"sqlite_with_rowid": False},
    )

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    mobile: Mapped[str] = mapped_column(String(32), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    province: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    sends: Mapped[int] = mapped_column(BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)  # result_code 0
    throttled: Mapped[int] = mapped_column(BigInteger, default=0)  # 8, 9, 17, 22
    answered: Mapped[int] = mapped_column(BigInteger, default=0)  # report SUCCESS


class _FailureRollup:
    """Failures per bucket × stage × reason × code × carrier × province × source: failed calls
    (stage 'call', the report's error_msg as reason, code 0) and refused sends (stage 'send',
    reason '', the result code), what the Failures page counts, read as a bucket's few rows
    instead of every send joined to its report. Kept exact by triggers on sends and reports
    (ingest/store/failure_rollup.py); `at` as in the traffic rollups."""

    __table_args__ = ({"sqlite_with_rowid": False},)

    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    stage: Mapped[str] = mapped_column(String(8), primary_key=True)
    reason: Mapped[str] = mapped_column(String(REASON_CHARS), primary_key=True)
    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    province: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class FailureHour(_FailureRollup, Base):
    __tablename__ = "failure_hours"


class FailureDay(_FailureRollup, Base):
    __tablename__ = "failure_days"


class ViewerEvent(Base):
    """The dashboard's audit log beside the manual sends: every login, failed login, logout,
    unmask and failed unmask, who (the name given) and from where (the client's address)."""

    __tablename__ = "viewer_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(16))  # see ingest.store.audit.EVENTS
    viewer: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)


class GuardAttempt(Base):
    """One relayed send as the guard (ingest/guard/) saw it before it left: where it went, who
    asked, and the guard's decision. Its counters are counts of these rows, so every relay on
    the same database sees a burst whole."""

    __tablename__ = "guard_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    mobile: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(8))
    app: Mapped[str] = mapped_column(String(128))
    passed: Mapped[bool] = mapped_column(default=True)  # the send went out
    rule: Mapped[str | None] = mapped_column(String(32))  # the rule that decided, if any fired
    mode: Mapped[str | None] = mapped_column(String(16))  # its mode: record-only | enforce
    fired: Mapped[str | None] = mapped_column(String(256))  # every rule that fired, "a,b"

    __table_args__ = (
        Index("ix_guard_attempts_mobile_at", "mobile", "at"),
        Index("ix_guard_attempts_prefix_at", "prefix", "at"),
        Index("ix_guard_attempts_country_at", "country", "at"),
        Index("ix_guard_attempts_app_at", "app", "at"),
    )


class GuardListEntry(Base):
    """A number or prefix on the guard's allow list (always sent) or block list (refused)."""

    __tablename__ = "guard_list_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # allow | block
    value: Mapped[str] = mapped_column(String(32))  # an exact number, or a prefix ending in *
    note: Mapped[str] = mapped_column(String(256), default="")
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("uq_guard_list_entries_kind_value", "kind", "value", unique=True),)


class GuardListChange(Base):
    """The audit of the allow and block lists: who added or removed what, when, from where."""

    __tablename__ = "guard_list_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16))  # dashboard | cli | file
