"""The ingest side of demo history: pull runs every 10 s and the raw bodies behind the last two
hours of seeded reports, with a few malformed pushes, so Ingest health has something to show."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta

from ingest.throttle import CHINA


def ingest_history(
    rng: random.Random, reports: list[dict], now: datetime
) -> tuple[list[dict], list[dict]]:
    """Pull runs every 10 s and the raw bodies behind the last two hours of reports."""
    since = now - timedelta(hours=2)
    recent = [r for r in reports if r["first_seen"] >= since]
    runs: list[dict] = []
    bodies: list[dict] = []
    pulled: dict[int, list[dict]] = defaultdict(list)
    for report in recent:
        if report["via_pull"]:
            pulled[int((report["first_seen"] - since).total_seconds() // 10)].append(report)
        if report["via_push"]:
            bodies.append(raw_body("push", report["first_seen"], [report]))
    for slot in range(int((now - since).total_seconds() // 10)):
        started = since + timedelta(seconds=slot * 10)
        failed = rng.random() < 0.01
        batch = [] if failed else pulled.get(slot, [])
        runs.append(
            {
                "started_at": started,
                "finished_at": started + timedelta(milliseconds=rng.uniform(80, 400)),
                "pages": 1 + len(batch) // 100,
                "reports": len(batch),
                "error": "ConnectTimeout: voice.yunpian.com did not answer in 10 s"
                if failed
                else None,
            }
        )
        bodies.append(raw_body("pull", started, batch))
    for minutes in (95, 41, 7):  # a client posting garbage to the push URL now and then
        at = now - timedelta(minutes=minutes)
        bodies.append(
            {
                "received_at": at,
                "channel": "push",
                "content_type": "application/x-www-form-urlencoded",
                "body": b"voice_status=%5B%7B%22sid%22%3A%22abc",
                "truncated": False,
                "parse_status": "malformed",
                "parse_error": "voice_status is not valid JSON: Unterminated string at char 8",
                "report_count": 0,
            }
        )
    return runs, bodies


def raw_body(channel: str, at: datetime, reports: list[dict]) -> dict:
    wire = [
        {
            "sid": r["sid"],
            "uid": None,
            "user_receive_time": r["user_receive_time"]
            .astimezone(CHINA)
            .strftime("%Y-%m-%d %H:%M:%S"),
            "duration": r["duration"],
            "error_msg": r["error_msg"],
            "mobile": r["mobile"],
            "report_status": r["status"],
        }
        for r in reports
    ]
    text = json.dumps(wire, ensure_ascii=False)
    return {
        "received_at": at,
        "channel": channel,
        "content_type": "application/json"
        if channel == "pull"
        else "application/x-www-form-urlencoded",
        "body": text.encode() if channel == "pull" else b"voice_status=" + text.encode(),
        "truncated": False,
        "parse_status": "ok",
        "parse_error": None,
        "report_count": len(reports),
    }
