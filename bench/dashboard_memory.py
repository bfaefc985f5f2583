"""Target 4: a real Streamlit process rendering the Overview ('Last 30 days') over the large
database stays under 300 MB resident. The page runs in a child process through
streamlit.testing's AppTest (the real script, the real queries); its peak RSS (VmHWM) and
current RSS are read from /proc/self/status after the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.harness import Result
from bench.queries import sqlite_database

GOAL_MB = 300
APP = Path(__file__).parents[1] / "dashboard" / "app.py"
CHILD = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300)
at.session_state["range"] = "Last 30 days"
at.run()
errors = [e.value for e in at.exception] + [e.body for e in at.error]
status = dict(l.split(":", 1) for l in open("/proc/self/status") if l.startswith("Vm"))
kb = lambda name: int(status[name].split()[0])
print(json.dumps({"hwm_kb": kb("VmHWM"), "rss_kb": kb("VmRSS"), "errors": errors,
                  "metrics": [m.label + "=" + str(m.value) for m in at.metric]}))
"""


def run(reports: int) -> list[Result]:
    url, _ = sqlite_database(reports)
    env = {**os.environ, "VOICEWATCH_DB": url, "VOICEWATCH_DIGEST_KEY": "bench"}
    env.pop("VOICEWATCH_DASHBOARD_PASSWORD", None)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(APP)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if child.returncode != 0:
        raise RuntimeError(f"dashboard child failed: {child.stderr[-2000:]}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    peak_mb = measured["hwm_kb"] / 1024
    print(f"  peak RSS {peak_mb:.0f} MB, RSS after the run {measured['rss_kb'] / 1024:.0f} MB")
    print(f"  tiles: {', '.join(measured['metrics'][:5])}")
    ok = not measured["errors"] and len(measured["metrics"]) >= 10
    return [
        Result(
            f"4 Dashboard memory, Overview, {reports:,} reports",
            f"{peak_mb:.0f} MB peak RSS",
            "—",
            None,
            f"< {GOAL_MB} MB",
            ok and peak_mb < GOAL_MB,
            "" if ok else f"page did not render: {measured['errors'][:2]}",
        )
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(10_000_000 if "--large" in sys.argv else 1_000_000))
