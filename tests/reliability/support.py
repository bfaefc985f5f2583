"""Real misbehaving upstreams, database dumps and metric reading for the reliability tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, inspect, select, table, text

from ingest import pull
from ingest.yunpian.client import VoiceClient

# A reply fit for each way an upstream can misbehave. "hang" never answers; "close" promises
# 100 bytes and closes after 9; "echo" answers 500 with the request body in the HTML.
JSON_500 = (
    b'{"http_status_code":500,"code":-51,"msg":"\xe7\xb3\xbb\xe7\xbb\x9f\xe7\xb9\x81\xe5\xbf\x99"}'
)
REPLIES = {
    "5xx": b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(JSON_500)}\r\nConnection: close\r\n\r\n".encode()
    + JSON_500,
    "close": b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
    b'Connection: close\r\n\r\n{"count":',
    "not_json": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 28\r\n"
    b"Connection: close\r\n\r\n<html>502 Bad Gateway</html>",
}
MODES = ("5xx", "hang", "close", "not_json")


@dataclass
class MisbehavingUpstream:
    """A raw-socket HTTP server on 127.0.0.1 that answers every request badly, as `mode` says,
    and records each request body (so tests can count what reached the upstream)."""

    mode: str
    requests: list[bytes] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                body += connection.recv(65536)
            self.requests.append(body)
            if self.mode == "hang":
                self._stop.wait(30)
            elif self.mode == "echo":
                page = b"<html>bad request: " + body + b"</html>"
                connection.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
                    + f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n".encode()
                    + page
                )
            else:
                connection.sendall(REPLIES[self.mode])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


def dump_database(engine: Engine) -> list[tuple[str, str, object]]:
    """Every value of every column of every table: (table, column, value)."""
    values = []
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            rows = connection.execute(select(text("*")).select_from(table(name))).mappings()
            for row in rows:
                values += [(name, column, value) for column, value in row.items()]
    return values


def values_containing(dump: list[tuple[str, str, object]], needle: str) -> list[tuple]:
    """The dumped values whose text (or bytes) contains `needle`."""
    found = []
    for name, column, value in dump:
        if isinstance(value, bytes | memoryview):
            haystack = bytes(value).decode("utf-8", "replace")
        else:
            haystack = str(value)
        if needle in haystack:
            found.append((name, column, haystack[:120]))
    return found


def metric(metrics_text: str, line_start: str) -> float:
    """The value of the first /metrics sample whose line starts with `line_start`."""
    for line in metrics_text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@contextmanager
def pulling(
    simulator, engine: Engine, *, interval: float, max_backoff: float
) -> Iterator[threading.Thread]:
    """The pull loop (`pull.run`) from `simulator` into `engine` on a thread of its own,
    stopped and joined on the way out."""
    stop = threading.Event()
    client = VoiceClient(simulator.url, simulator.apikey, backoff=0.01)
    puller = threading.Thread(
        target=pull.run,
        args=(client, engine),
        kwargs={"interval": interval, "stop": stop, "max_backoff": max_backoff},
    )
    puller.start()
    try:
        yield puller
    finally:
        stop.set()
        puller.join(timeout=10)
        client.close()
