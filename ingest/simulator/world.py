"""The simulated Yunpian voice account: validation, balance, calls, report queues, ground truth.

Pure domain, no HTTP: `World.send`, `tpl_notify` and `pull_status` take a request's form
fields and return what Yunpian would answer, or a `Rejection` (return code and detail). One
lock guards everything, because uvicorn's handlers, the push worker and tests share a world.
"""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

from ingest.numbers import describe
from ingest.simulator.clock import Clock, ManualClock, SystemClock
from ingest.simulator.config import SimulatorConfig, seeded_random
from ingest.simulator.faults import OUTAGE_ERROR_MSG, RATE_LIMITED, IncidentBoard
from ingest.simulator.forms import (
    bad,
    check_mobile_and_callback,
    content_key,
    is_int,
    missing,
    param,
)
from ingest.simulator.outcomes import CallOutcome, decide_outcome
from ingest.simulator.records import (
    CHINA,
    VOICE_CODE,
    VOICE_NOTIFICATION,
    Accepted,
    Call,
    PushBatch,
    RejectedSend,
    Rejection,
    china_time,
    money,
)
from ingest.simulator.throttle import HarassmentGuard

__all__ = [
    "QUIET_HOURS_REJECTION",
    "Clock",
    "ManualClock",
    "SimulatorConfig",
    "SystemClock",
    "World",
]

_CODE_FORM = re.compile(r"^[0-9]{4,6}$")  # ASCII only: str.isdigit() would take '１２３４'
LANGUAGES = frozenset({"zh", "en", "id", "vi", "tr", "ru", "de", "fr", "it", "pt", "es", "ar"})
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
QUIET_FROM, QUIET_UNTIL = time(22, 0), time(7, 30)  # China time
REALISTIC_CALL_DELAY = (8.0, 45.0)  # seconds of ringing before the call is answered or given up

# The reference says domestic voice codes are not sent 22:00-07:30 China time, but not how the
# API reacts to a send in those hours. UNCONFIRMED choice: refuse at once with -53 ("submit
# failed", a code callers retry later) and HTTP 400 rather than codes.py's 500 for -53, since
# it is a rule and not server trouble. Changing the behaviour means changing this constant.
QUIET_HOURS_REJECTION = Rejection(
    code=-53,
    detail="国内号码北京时间22:00至次日07:30不发送语音验证码，请在07:30后重试",
    http_status=400,
)


def in_quiet_hours(moment: datetime) -> bool:
    local = moment.astimezone(CHINA).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


class World:
    """One simulated Yunpian voice account and every call made through it."""

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Clock | None = None,
        incidents: IncidentBoard | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.incidents = incidents or IncidentBoard()
        self._lock = threading.Lock()
        self._rng = seeded_random(config.seed, "world")
        self._incident_rng = seeded_random(config.seed, "incidents")  # keeps _rng's stream
        self._fee = Decimal(str(config.fee))
        self._balance = Decimal(str(config.balance))
        self._guard = HarassmentGuard(config.limit_per_hour, config.limit_per_day)
        self._calls: dict[str, Call] = {}
        self._rejected: list[RejectedSend] = []
        self._pending: list[tuple[datetime, int, str]] = []  # heap of (due_at, seq, sid)
        self._seq = itertools.count()
        self._pull_queues = {VOICE_CODE: deque[str](), VOICE_NOTIFICATION: deque[str]()}
        self._outbox: dict[str, deque[str]] = {}

    # -- the three API operations ----------------------------------------------------------

    def send(self, params: Mapping[str, str]) -> Accepted | Rejection:
        """send.json: place a voice-code call, or say why not."""
        with self._lock:
            now = self.clock.now()
            return self._settle("send", params, now, VOICE_CODE, self._check_send(params, now))

    def tpl_notify(self, params: Mapping[str, str]) -> Accepted | Rejection:
        """tpl_notify.json: place a voice-notification call, or say why not."""
        with self._lock:
            now = self.clock.now()
            rejection = self._check_tpl_notify(params, now)
            return self._settle("tpl_notify", params, now, VOICE_NOTIFICATION, rejection)

    def pull_status(self, params: Mapping[str, str]) -> list[dict[str, object]] | Rejection:
        """pull_status.json: due reports of one type, oldest first, each handed out once
        (once-only is believed, not confirmed, for Yunpian)."""
        with self._lock:
            rejection = self._check_apikey(params)
            if rejection:
                return rejection
            page_size = param(params, "page_size") or str(PAGE_SIZE_DEFAULT)
            if not is_int(page_size) or not 1 <= int(page_size) <= PAGE_SIZE_MAX:
                return bad("page_size", f"page_size必须为1至{PAGE_SIZE_MAX}的整数")
            kind = param(params, "type") or str(VOICE_CODE)
            if kind not in ("1", "2"):
                return bad("type", "type必须为1(语音验证码)或2(语音通知)")
            self._release_due(self.clock.now())
            queue = self._pull_queues[int(kind)]
            page = []
            for _ in range(min(int(page_size), len(queue))):
                call = self._calls[queue.popleft()]
                call.pulled = True
                page.append(dict(call.report))
            return page

    # -- checks, in the order the real service plausibly makes them --------------------------

    def _check_apikey(self, params: Mapping[str, str]) -> Rejection | None:
        apikey = param(params, "apikey")
        if apikey is None:
            return missing("apikey")
        if apikey != self.config.apikey:
            return Rejection(-1, "请检查apikey是否正确")  # detail wording believed
        return self.incidents.now.auth_refusal()

    def _check_required(
        self, params: Mapping[str, str], names: tuple[str, ...]
    ) -> Rejection | None:
        rejection = self._check_apikey(params)
        if rejection:
            return rejection
        for name in names:
            if param(params, name) is None:
                return missing(name)
        share = self.incidents.now.rate_limited
        if share and self._incident_rng.random() < share:
            return RATE_LIMITED
        return None

    def _check_send(self, params: Mapping[str, str], now: datetime) -> Rejection | None:
        rejection = self._check_required(params, ("mobile", "code"))
        if rejection:
            return rejection
        if not _CODE_FORM.match(params["code"]):
            return bad("code", "code必须为4至6位阿拉伯数字")
        rejection = check_mobile_and_callback(params)
        if rejection:
            return rejection
        language = param(params, "language")
        if language is not None and language not in LANGUAGES:
            return bad("language", f"language不支持，可选值为{','.join(sorted(LANGUAGES))}")
        return self._check_delivery(params, VOICE_CODE, now)

    def _check_tpl_notify(self, params: Mapping[str, str], now: datetime) -> Rejection | None:
        rejection = self._check_required(params, ("mobile", "tpl_id", "tpl_value"))
        if rejection:
            return rejection
        rejection = check_mobile_and_callback(params)
        if rejection:
            return rejection
        tpl_id = params["tpl_id"]
        if not is_int(tpl_id):
            return bad("tpl_id", "tpl_id必须为整数")
        if int(tpl_id) not in self.config.templates:
            return Rejection(5, f"未找到id为{tpl_id}的模板")  # detail wording believed
        if not parse_qsl(params["tpl_value"]):
            return bad("tpl_value", "tpl_value必须为urlencode后的变量名和变量值对")
        return self._check_delivery(params, VOICE_NOTIFICATION, now)

    def _check_delivery(
        self, params: Mapping[str, str], kind: int, now: datetime
    ) -> Rejection | None:
        if self._balance < self._price():
            return Rejection(3, "账户余额不足，请充值后重试")  # detail wording believed
        mobile = params["mobile"]
        rejection = self._guard.check(mobile, content_key(params, kind), now)
        if rejection:
            return rejection
        # The reference states quiet hours for voice codes only, so notifications ring anyway.
        night = self.config.quiet_hours and in_quiet_hours(now)
        quiet = kind == VOICE_CODE and (night or self.incidents.now.quiet_hours)
        if quiet and describe(mobile).domestic:
            return QUIET_HOURS_REJECTION
        return None

    # -- accepting -----------------------------------------------------------------------------

    def _settle(
        self,
        endpoint: str,
        params: Mapping[str, str],
        now: datetime,
        kind: int,
        rejection: Rejection | None,
    ) -> Accepted | Rejection:
        # Believed: refused requests are not charged and do not count toward throttle windows.
        if rejection:
            mobile = param(params, "mobile")
            self._rejected.append(
                RejectedSend(now, endpoint, mobile, rejection.code, rejection.detail)
            )
            return rejection
        return self._place_call(params, now, kind)

    def _place_call(self, params: Mapping[str, str], now: datetime, kind: int) -> Accepted:
        mobile = params["mobile"]
        sid = uuid.UUID(int=self._rng.getrandbits(128), version=4).hex
        delay = self.config.call_delay
        realistic = delay is None
        if realistic:
            delay = self._rng.uniform(*REALISTIC_CALL_DELAY)
        incidents = self.incidents.now
        if incidents.reports == "delayed":
            delay += incidents.report_delay
        info = describe(mobile)
        outcome = decide_outcome(info, self._rng)  # drawn anyway: outages keep the stream
        if incidents.in_outage(info.carrier, info.province):
            outcome = CallOutcome(False, 0, OUTAGE_ERROR_MSG)
        if realistic:
            # user_receive_time is when the call ended: ringing, then the answered call's length
            # (a configured call_delay is a test's exact send -> report time, kept as given).
            delay += outcome.duration
        due_at = now + timedelta(seconds=delay)
        uid = param(params, "uid")
        report: dict[str, object] = {
            "sid": sid,
            "uid": uid,
            "user_receive_time": china_time(due_at),
            "duration": outcome.duration,
            "error_msg": outcome.error_msg,
            "mobile": mobile,
            "report_status": outcome.report_status,
        }
        push_url = param(params, "callback_url") or self.config.push_url
        fee = self._price()
        self._calls[sid] = Call(sid, kind, mobile, uid, now, due_at, outcome, report, push_url, fee)
        self._balance -= fee
        heapq.heappush(self._pending, (due_at, next(self._seq), sid))
        self._guard.remember(mobile, content_key(params, kind), now)
        return Accepted(sid=sid, fee=fee)

    def _price(self) -> Decimal:
        """What a call costs now: the account's fee, or a raised one while that incident lasts."""
        fee = self.incidents.now.fee
        return self._fee if fee is None else Decimal(str(fee))

    def user(self, params: Mapping[str, str]) -> dict[str, object] | Rejection:
        """user/get.json: the account object, whose `balance` the alerts watch."""
        with self._lock:
            rejection = self._check_apikey(params)
            if rejection:
                return rejection
            # Fields as in Yunpian's SMS v2 user object (the voice reference names only
            # balance and alarm_balance; the rest follow the SMS SDK's User model, believed).
            return {
                "nick": "voicewatch-demo",
                "gmt_created": "2024-01-01 00:00:00",
                "mobile": None,
                "email": None,
                "ip_whitelist": None,
                "api_version": "v2",
                "alarm_balance": 100,
                "emergency_contact": None,
                "emergency_mobile": None,
                "balance": money(self._balance),
            }

    def set_balance(self, balance: float) -> None:
        """Top the account up (or drain it) to `balance`."""
        with self._lock:
            self._balance = Decimal(str(balance))

    # -- reports coming due, pushing -----------------------------------------------------------

    def _release_due(self, now: datetime) -> None:
        """Move reports whose time has come (per the world's clock) to their pull queue and,
        when the call has a push address, to the outbox. Withheld reports stay pending."""
        if self.incidents.now.reports == "withheld":
            return
        while self._pending and self._pending[0][0] <= now:
            _, _, sid = heapq.heappop(self._pending)
            call = self._calls[sid]
            call.due = True
            self._pull_queues[call.type].append(sid)
            if call.push_url:
                self._outbox.setdefault(call.push_url, deque()).append(sid)

    def take_push_batches(self, batch_size: int) -> list[PushBatch]:
        """Empty the outbox into batches of at most `batch_size` reports per address."""
        with self._lock:
            self._release_due(self.clock.now())
            batches = []
            for url, sids in self._outbox.items():
                while sids:
                    chunk = [sids.popleft() for _ in range(min(batch_size, len(sids)))]
                    reports = [dict(self._calls[sid].report) for sid in chunk]
                    batches.append(PushBatch(url, chunk, reports))
            self._outbox.clear()
            return batches

    def record_push(self, sids: list[str], *, acknowledged: bool) -> None:
        with self._lock:
            for sid in sids:
                call = self._calls[sid]
                call.push_attempts += 1
                call.push_acknowledged = call.push_acknowledged or acknowledged

    def record_push_dropped(self, sids: list[str]) -> None:
        with self._lock:
            for sid in sids:
                self._calls[sid].push_dropped += 1

    def record_push_gave_up(self, sids: list[str]) -> None:
        with self._lock:
            for sid in sids:
                self._calls[sid].push_gave_up = True

    # -- ground truth, read-only -----------------------------------------------------------

    @property
    def balance(self) -> Decimal:
        with self._lock:
            return self._balance

    def calls(self, since: datetime | None = None) -> list[Call]:
        """Every accepted call (accepted at or after `since`), in the order accepted."""
        with self._lock:
            self._release_due(self.clock.now())
            return [c for c in self._calls.values() if since is None or c.accepted_at >= since]

    def call(self, sid: str) -> Call:
        with self._lock:
            self._release_due(self.clock.now())
            return self._calls[sid]

    def rejected(self, since: datetime | None = None) -> list[RejectedSend]:
        """Every refused send and tpl_notify (at or after `since`), in order."""
        with self._lock:
            return [r for r in self._rejected if since is None or r.at >= since]

    def state(self) -> dict[str, object]:
        """Balance and queue sizes, for /_sim/state."""
        with self._lock:
            self._release_due(self.clock.now())
            return {
                "balance": money(self._balance),
                "fee": money(self._price()),
                "calls": len(self._calls),
                "rejected": len(self._rejected),
                "pending": len(self._pending),
                "pull_queue": {str(kind): len(q) for kind, q in self._pull_queues.items()},
                "push_outbox": sum(len(q) for q in self._outbox.values()),
            }
