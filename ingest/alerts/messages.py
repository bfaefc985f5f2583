"""Notification text: short, Chinese and English, with the numbers that fired the rule, a
masked example call and a link to the dashboard's Alerts page filtered to the problem.

One message per rule and event kind per evaluation: three provinces dropping together make
one "3 provinces" message, not three."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from ingest.alerts.rules import Rule
from ingest.i18n import Language
from ingest.places import place_name
from ingest.store.alert_models import AlertEvent

EVENT_WORDS = {
    "firing": ("告警", "FIRING"),
    "repeat": ("持续告警", "STILL FIRING"),
    "resolved": ("已恢复", "RESOLVED"),
}
SHARE_KINDS = ("answer_rate", "reports_missing", "upstream_errors")
MAX_LINES = 8  # subjects listed in one message; the rest are counted


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    severity: str  # info | warning | critical | resolved


def format_value(kind: str, value: float | None) -> str:
    """A measured value in the kind's unit, as on-call reads it."""
    if value is None:
        return "—"
    if kind in SHARE_KINDS:
        return f"{value:.1%}"
    if kind in ("pull_stale", "push_stale"):
        return f"{value:.0f} s"
    if kind == "balance_runway":
        return f"{value:.1f} h"
    if kind == "hot_numbers":
        return f"{value:.0f}"
    return f"{value:g}"


def dashboard_link(base_url: str, rule: str, subject: str = "") -> str:
    query = {"rule": rule, **({"subject": subject} if subject else {})}
    return f"{base_url.rstrip('/')}/alerts?{urlencode(query)}"


def _where(subject: str) -> str:
    """'China Mobile' as '中国移动 China Mobile' (both languages, as the whole message is)."""
    where = subject.partition("=")[2]
    if not where:
        return "全部 / all"
    chinese = place_name(where, Language("zh_CN"))
    return where if chinese == where else f"{chinese} {where}"


def _line(rule: Rule, event: AlertEvent) -> str:
    where = _where(event.subject)
    baseline = ""
    if event.baseline is not None:
        baseline = f", 基线 baseline {format_value(rule.kind, event.baseline)}"
    return (
        f"• {where}: {format_value(rule.kind, event.value)} "
        f"(阈值 threshold {format_value(rule.kind, event.threshold)}{baseline}, n={event.sample})"
    )


def compose(rule: Rule, kind: str, events: list[AlertEvent], dashboard_url: str) -> Message:
    """The one message for `events` (all of `rule`, all of event `kind`)."""
    zh, en = EVENT_WORDS[kind]
    subjects = [e.subject for e in events if e.subject]
    count = f" ×{len(subjects)} {rule.scope}" if len(subjects) > 1 else ""
    title = f"[{rule.severity.upper()}] {en}{count}: {rule.title_en} / {zh}: {rule.title_zh}"
    lines = [_line(rule, event) for event in events[:MAX_LINES]]
    if len(events) > MAX_LINES:
        lines.append(f"• … +{len(events) - MAX_LINES} 个 more")
    example = next((e.example for e in events if e.example), None)
    if example and kind != "resolved":
        lines.append(f"示例 example: {example}")
    subject = events[0].subject if len(events) == 1 else ""
    lines.append(f"查看 view: {dashboard_link(dashboard_url, rule.name, subject)}")
    severity = "resolved" if kind == "resolved" else rule.severity
    return Message(title, "\n".join(lines), severity)


def channel_test_message(dashboard_url: str) -> Message:
    """What `voicewatch alerts test` and the page's button send."""
    return Message(
        "[TEST] voicewatch 告警测试 / alert test",
        "这是一条测试消息，告警通道工作正常。\nThis is a test: the alert channel works.\n"
        f"查看 view: {dashboard_url.rstrip('/')}/alerts",
        "info",
    )
