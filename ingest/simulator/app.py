"""The simulator's HTTP face: Yunpian's voice API paths on top of a `World`.

Wire format per ../shared/yunpian-voice-api.md: POST form-encoded (utf-8) in, JSON out as
`application/json;charset=utf-8`; errors as {"http_status_code", "code", "msg", "detail"}.
`/_sim/...` are the simulator's own views of its ground truth, and `POST /_sim/faults`
(loopback only) switches incidents on and off (ingest/simulator/faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingest.simulator.attack import ATTACK_ROUTES, Attack
from ingest.simulator.clock import Clock
from ingest.simulator.config import SimulatorConfig, seeded_random
from ingest.simulator.faults import (
    LOOPBACK,
    FaultSpecError,
    IncidentBoard,
    Incidents,
    apply_spec,
)
from ingest.simulator.push import PushWorker
from ingest.simulator.records import Accepted, Rejection
from ingest.simulator.world import World
from ingest.yunpian.codes import lookup

JSON_TYPE = "application/json;charset=utf-8"
# How long a request to an 'unreachable' simulator (or a stalled pull) hangs at most before
# it is dropped with a gateway timeout; clients time out well before.
BLACKHOLE_SECONDS = 120.0
API_PATHS = ("send", "pull_status", "tpl_notify")

Operation = Callable[[Mapping[str, str]], object]


def json_response(body: object, status: int = 200) -> Response:
    # Yunpian answers with raw UTF-8 Chinese, not \u escapes.
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode("utf-8"), status_code=status, media_type=JSON_TYPE)


def error_response(rejection: Rejection) -> Response:
    """Yunpian's v2 error shape, with msg and HTTP status from ingest/yunpian/codes.py."""
    known = lookup(rejection.code)
    status = rejection.http_status or known.http_status
    body = {
        "http_status_code": status,
        "code": rejection.code,
        "msg": known.msg,
        "detail": rejection.detail,
    }
    return json_response(body, status)


class Faults:
    """Request-level fault decisions, all drawn from the seed."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._rng = seeded_random(config.seed, "faults")

    def server_error(self) -> Rejection | None:
        if self._rng.random() >= self.config.fault_5xx:
            return None
        code = self._rng.choice((-51, -50))
        return Rejection(code, "系统繁忙，请稍后重试" if code == -51 else "未知异常，请稍后重试")

    def malformed(self) -> bool:
        return self._rng.random() < self.config.fault_malformed

    def reorder(self, page: list[dict[str, object]]) -> None:
        if self._rng.random() < self.config.fault_reorder:
            self._rng.shuffle(page)


def _truncate(response: Response) -> Response:
    """The answer cut off mid-way: still 'JSON' by header, no longer JSON by content."""
    body = bytes(response.body)
    cut = body[: max(1, len(body) // 2)]
    return Response(cut, status_code=response.status_code, media_type=JSON_TYPE)


async def read_form(request: Request) -> Mapping[str, str] | Rejection:
    """The form fields of a urlencoded body, decoded with the charset it declares (utf-8 by
    default). The first value wins when a field repeats."""
    charset = request.headers.get("content-type", "").partition("charset=")[2].split(";")[0]
    charset = charset.strip().strip('"') or "utf-8"
    body = await request.body()
    try:
        text = body.decode(charset)  # raw bytes, then percent-escapes, in the same charset
        fields = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError):
        return Rejection(14, f"请求参数无法按 {charset} 解码")  # detail wording believed
    form: dict[str, str] = {}
    for name, value in fields:
        form.setdefault(name, value)
    return form


class VoiceApi:
    """The three Yunpian voice endpoints, with faults applied around the world's answers."""

    def __init__(self, world: World, faults: Faults) -> None:
        self.world = world
        self.faults = faults

    async def send(self, request: Request) -> Response:
        return await self._answer(request, self.world.send)

    async def tpl_notify(self, request: Request) -> Response:
        return await self._answer(request, self.world.tpl_notify)

    async def pull_status(self, request: Request) -> Response:
        pull = self.world.incidents.now.pull
        if pull == "stall":
            return await self._blackhole(lambda: self.world.incidents.now.pull == "stall")
        if pull == "5xx":
            return error_response(Rejection(-51, "系统繁忙，请稍后重试"))
        return await self._answer(request, self.world.pull_status, consumes=True)

    async def user(self, request: Request) -> Response:
        return await self._answer(request, self.world.user)

    async def _blackhole(self, ongoing: Callable[[], bool]) -> Response:
        """Hang like a dropped connection while the incident lasts, then give up without
        touching the world: the client has long stopped waiting for this answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BLACKHOLE_SECONDS
        while ongoing() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return Response(b"gateway timeout", status_code=504, media_type="text/plain")

    async def _answer(
        self, request: Request, operation: Operation, consumes: bool = False
    ) -> Response:
        if self.world.incidents.now.unreachable:
            return await self._blackhole(lambda: self.world.incidents.now.unreachable)
        if self.faults.config.fault_latency:
            await asyncio.sleep(self.faults.config.fault_latency)
        if request.method != "POST":
            # codes.py gives code 11 HTTP 400; the real service may well say 405 (unconfirmed).
            return error_response(Rejection(11, "请使用POST方式调用接口"))
        # Decided before anything changes, so a 5xx never loses or charges a record.
        server_error = self.faults.server_error()
        if server_error:
            return error_response(server_error)
        malformed = self.faults.malformed()
        if malformed and consumes:
            # Decided before dequeuing: a garbled pull answer must not eat the reports.
            return Response(b'[{"sid":"', media_type=JSON_TYPE)
        form = await read_form(request)
        result = form if isinstance(form, Rejection) else operation(form)
        response = self._render(result)
        # A garbled send answer still placed (and charged) the call, as the real world can.
        return _truncate(response) if malformed else response

    def _render(self, result: object) -> Response:
        if isinstance(result, Rejection):
            return error_response(result)
        if isinstance(result, Accepted):
            return json_response(result.to_json())
        if isinstance(result, dict):
            return json_response(result)
        assert isinstance(result, list)
        self.faults.reorder(result)
        return json_response(result)


async def sim_calls(request: Request) -> Response:
    """Ground truth: every accepted call and every refused send, optionally `?since=` (ISO)."""
    world: World = request.app.state.world
    since = None
    if "since" in request.query_params:
        try:
            since = datetime.fromisoformat(request.query_params["since"])
        except ValueError:
            return json_response({"error": "since must be an ISO 8601 time"}, 400)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    calls = [call.to_json() for call in world.calls(since)]
    rejected = [rejection.to_json() for rejection in world.rejected(since)]
    return json_response({"calls": calls, "rejected": rejected})


async def sim_state(request: Request) -> Response:
    """Balance, queue and outbox sizes."""
    return json_response(request.app.state.world.state())


async def sim_faults(request: Request) -> Response:
    """GET: the incidents in force. POST (loopback only) a JSON object to change them, e.g.
    {"outage": {"carriers": ["China Mobile"]}}, {"reports": "withheld"}, {"pull": "stall"},
    {"unreachable": true}, {"auth": "apikey"}, {"quiet_hours": true}, {"rate_limited": 0.5},
    {"fee": 5}, {"balance": 50}, {"clear": true}."""
    world: World = request.app.state.world
    if request.method == "POST":
        if request.client is None or request.client.host not in LOOPBACK:
            return json_response({"error": "faults can be switched from this host only"}, 403)
        try:
            spec = json.loads(await request.body())
            if not isinstance(spec, dict):
                raise FaultSpecError("the body must be a JSON object")
            incidents, balance = apply_spec(world.incidents.now, spec)
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            return json_response({"error": str(error)}, 400)
        world.incidents.set(incidents)
        if balance is not None:
            world.set_balance(balance)
    return json_response({**world.incidents.now.to_json(), "balance": world.state()["balance"]})


async def http_error(request: Request, exc: Exception) -> Response:
    # Yunpian-shaped even for unknown paths: SDKs fail on non-JSON answers. The real service's
    # answer to an unknown path is unconfirmed; -50 "unknown error" is our choice.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = f"接口不存在: {request.url.path}" if status == 404 else f"{request.method} 不支持"
    return json_response(
        {"http_status_code": status, "code": -50, "msg": lookup(-50).msg, "detail": detail}, status
    )


def create_app(
    config: SimulatorConfig, clock: Clock | None = None, incidents: Incidents | None = None
) -> Starlette:
    """The simulated Yunpian voice API for one account, with its push worker; `incidents`
    are in force from the start (the `voicewatch simulate` outage flags)."""
    world = World(config, clock, IncidentBoard(incidents))
    api = VoiceApi(world, Faults(config))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=config.push_timeout) as client:
            worker = asyncio.create_task(PushWorker(world, config, client).run())
            try:
                yield
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    routes = [
        Route(f"/v2/voice/{name}.json", getattr(api, name), methods=["GET", "POST"])
        for name in API_PATHS
    ]
    routes += [
        Route("/v2/user/get.json", api.user, methods=["GET", "POST"]),
        Route("/_sim/calls", sim_calls),
        Route("/_sim/state", sim_state),
        Route("/_sim/faults", sim_faults, methods=["GET", "POST"]),
        *ATTACK_ROUTES,
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    app.state.world = world
    app.state.config = config
    app.state.attack = Attack(config.apikey)
    return app
