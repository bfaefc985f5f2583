"""A local HTTP receiver on 127.0.0.1 standing in for every notification channel."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers import ServerThread


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, str]
    body: dict[str, object]

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class ChannelReceiver:
    """Records every POST; `down = True` answers 503 (a channel that is away)."""

    url: str = ""
    host: str = ""
    down: bool = False
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def receive(self, request: Request) -> JSONResponse:
        if self.down:
            return JSONResponse({"errcode": 503}, status_code=503)
        body = json.loads(await request.body() or b"{}")
        with self._lock:
            self.received.append(Received(request.url.path, dict(request.query_params), body))
        # Answers every bot API accepts as success: DingTalk/WeCom errcode 0, Feishu code 0.
        return JSONResponse({"errcode": 0, "errmsg": "ok", "code": 0, "StatusCode": 0})

    def texts(self) -> list[str]:
        with self._lock:
            return [r.text for r in self.received]


@pytest.fixture
def receiver() -> Iterator[ChannelReceiver]:
    channel = ChannelReceiver()
    app = Starlette(routes=[Route("/{path:path}", channel.receive, methods=["POST"])])
    with ServerThread(app) as server:
        channel.url, channel.host = server.url, f"127.0.0.1:{server.port}"
        yield channel
