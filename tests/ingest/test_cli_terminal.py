"""`voicewatch lookup` run in a real terminal (util-linux `script` gives it a pty): the report
texts it prints cannot drive the viewer's terminal. Control codes in stored text — ESC
sequences (CSI colours and cursor moves, OSC title and hyperlink), BEL, 8-bit C1 CSI, bidi
overrides, line breaks that forge a line — reach the terminal as nothing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.store.models import Send
from ingest.store.upserts import store_reports
from ingest.store.writes import record_send
from ingest.yunpian.reports import Report

ROOT = Path(__file__).parents[2]
MOBILE = "15205201314"
T0 = datetime.now(UTC) - timedelta(minutes=10)
HOSTILE = (
    "\x1b[2J\x1b[H\x1b[31mFAKE\x1b[0m"  # clear screen, home, colour
    "\x1b]0;pwned\x07"  # window title, BEL
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    "\x9b2J"  # 8-bit CSI
    "\u202egnp.exe"  # right-to-left override
    "\r\n2026-01-01 00:00:00  send   accepted       sid=forged"  # a forged line
    " callee 13912345678"
)
CONTROL_BYTES = [bytes([b]) for b in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]
C1_AND_BIDI = ["\x9b", "\u202e", "\u202a", "\u2066"]


@pytest.fixture
def hostile_story(engine, db_url) -> str:
    record_send(
        engine,
        Send(
            sent_at=T0,
            mobile=MOBILE,
            code_digest="x",
            result_code=2,
            result_msg=HOSTILE,
            fee=0.0,
            source="relay",
            carrier="",
            province="",
        ),
    )
    report = Report(
        "s-hostile", MOBILE, "FAIL", T0 + timedelta(seconds=30), duration=0, error_msg=HOSTILE
    )
    store_reports(engine, [report], "push")
    return db_url


def in_terminal(db_url: str, *args: str) -> bytes:
    """What `voicewatch lookup …` writes to a pty, as the terminal receives it."""
    if shutil.which("script") is None:
        pytest.skip("util-linux `script` is not installed")
    command = shlex.join([sys.executable, "-c", "from ingest.cli import main; main()", *args])
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "VOICEWATCH_DB": db_url,
        "VOICEWATCH_DIGEST_KEY": "k",
        "TERM": "xterm",
    }
    done = subprocess.run(
        ["script", "-qefc", command, "/dev/null"],
        env=env,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_lookup_prints_no_control_codes_to_a_terminal(hostile_story, as_json):
    output = in_terminal(hostile_story, "lookup", MOBILE, *(["--json"] if as_json else []))
    assert b"FAKE" in output  # the stored text is shown …
    assert b"\x1b" not in output and b"\x07" not in output  # … without one escape
    assert [c for c in CONTROL_BYTES if c in output] == []
    text = output.decode("utf-8")
    assert [c for c in C1_AND_BIDI if c in text] == []
    assert "13912345678" not in text and "139****5678" in text
    if not as_json:  # the only line breaks are the ones lookup makes (the pty adds \r):
        # the stored text's own CR LF starts no forged timeline line
        lines = text.replace("\r\n", "\n").strip().split("\n")
        assert not [line for line in lines if line.lstrip().startswith("2026-01-01 00:00:00")]
        assert sum("FAKE" in line for line in lines) == 1  # the report's, on its own line
