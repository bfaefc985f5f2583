"""deploy/: the Prometheus rules pass promtool (check and unit tests) and use only metrics
voicewatch exports; the Grafana dashboard loads and queries only those metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ingest.alerts.metrics import AlertMetrics
from ingest.store.engine import make_engine

DEPLOY = Path(__file__).parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "voicewatch-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "voicewatch.json"
METRIC = re.compile(r"\bvoicewatch_[a-z0-9_]+")
promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    """Metric names a scrape of voicewatch shows (on an empty database)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('deploy') / 'v.db'}")
    registry = CollectorRegistry()
    registry.register(AlertMetrics(engine, clock=lambda: datetime.now(UTC)))
    text = generate_latest(registry).decode()
    return set(re.findall(r"^# TYPE (\S+)", text, re.MULTILINE))


@promtool
def test_promtool_accepts_the_rules():
    result = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@promtool
def test_the_rules_fire_as_their_unit_tests_say():
    result = subprocess.run(
        ["promtool", "test", "rules", "voicewatch-alerts.test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_use_only_exported_metrics(exported):
    used = set(METRIC.findall(RULES.read_text()))
    assert used and used <= exported, used - exported


def test_grafana_dashboard_queries_only_exported_metrics(exported):
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [t for panel in dashboard["panels"] for t in panel["targets"]]
    assert dashboard["uid"] and targets
    for target in targets:
        assert target["expr"].strip() and target["refId"]
        used = set(METRIC.findall(target["expr"]))
        assert used and used <= exported, target["expr"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
