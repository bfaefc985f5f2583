"""Target: the guard adds under 1 ms median to a relayed send. Two relays over the same
simulator, one with every guard rule off, one with every rule in record-only mode (the guard's
full work, its counts and its record, without refusing the bench's sends); sends interleaved."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.harness import Result, fresh_dir, served
from bench.relay import latencies, serve_simulator

GOAL_MS = 1.0
ALL_OFF = "\n".join(
    f'[{rule}]\nmode = "off"'
    for rule in ("lists", "destination", "number", "range", "country", "app")
)


def serve_guarded_relay(port: int, db_url: str, voice_url: str, rules: str) -> None:
    import uvicorn

    from ingest.service.app import create_app
    from ingest.settings import Settings
    from ingest.store.engine import make_engine

    env = {
        "VOICEWATCH_DB": db_url,
        "VOICEWATCH_DIGEST_KEY": "bench",
        "YUNPIAN_VOICE_URL": voice_url,
        "VOICEWATCH_GUARD": rules,
    }
    app = create_app(Settings.from_env(env, env_file=None), make_engine(db_url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run(count: int) -> list[Result]:
    directory = fresh_dir("guard")
    off, recording = Path(directory / "off.toml"), Path(directory / "record.toml")
    off.write_text(ALL_OFF)
    recording.write_text(ALL_OFF.replace('"off"', '"record-only"'))
    with served(serve_simulator) as simulator:
        unguarded = served(
            serve_guarded_relay, f"sqlite:///{directory / 'off.db'}", simulator, str(off)
        )
        guarded = served(
            serve_guarded_relay, f"sqlite:///{directory / 'on.db'}", simulator, str(recording)
        )
        with unguarded as off_url, guarded as on_url:
            without: list[float] = []
            with_guard: list[float] = []
            for round_ in range(4):
                half = count // 4
                without += latencies(off_url, half, 2 * round_ * half, "guard off")
                with_guard += latencies(on_url, half, (2 * round_ + 1) * half, "guard on")
    off_ms, on_ms = statistics.median(without), statistics.median(with_guard)
    added = on_ms - off_ms
    print(f"  median relayed send: guard off {off_ms:.2f} ms, guard on {on_ms:.2f} ms")
    return [
        Result(
            f"Guard added latency, median of {len(with_guard)} relayed sends",
            f"{added:.2f} ms",
            f"{off_ms:.2f} ms guard off",
            on_ms / off_ms,
            f"< {GOAL_MS:g} ms added",
            added < GOAL_MS,
        )
    ]


if __name__ == "__main__":
    import sys

    from bench.__main__ import print_table

    print_table(run(1000 if "--large" in sys.argv else 300))
