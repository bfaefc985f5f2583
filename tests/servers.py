"""Real servers on 127.0.0.1 for tests: an ASGI app under uvicorn in a background thread, or
`voicewatch serve` in a child process."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.02):
    """Poll `condition` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 (or `host`):<free port> until `stop()`."""

    def __init__(self, app, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def ingest_process(env: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """`voicewatch serve` on 127.0.0.1:`port` in a child process, until the block ends (then
    killed, as a crash would)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ingest", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _serving(port) or process.poll() is not None, timeout=30)
        assert process.poll() is None, "the ingest service exited at start"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _serving(port: int) -> bool:
    try:
        # Serving: /healthz may be 503 `degraded` (faults, no pull yet), and that is true.
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False
