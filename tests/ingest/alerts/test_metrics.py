"""The alert figures on a Prometheus registry, as a scrape sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session

from ingest.alerts.balance import Balance, record_balance
from ingest.alerts.metrics import AlertMetrics
from tests.ingest.alerts.support import add_calls, add_pull_run

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_scrape_shows_answer_rate_balance_pull_lag_and_codes(engine):
    add_calls(engine, NOW - timedelta(minutes=3), 10, 8, carrier="China Mobile")
    add_calls(engine, NOW - timedelta(minutes=3), 2, 0, result_code=3, http_status=400)
    add_calls(engine, NOW - timedelta(minutes=3), 1, 0, result_code=999, http_status=400)
    add_pull_run(engine, NOW - timedelta(seconds=31))
    with Session(engine) as session, session.begin():
        record_balance(session, Balance(321.0, None), NOW - timedelta(minutes=1))
    registry = CollectorRegistry()
    registry.register(AlertMetrics(engine, clock=lambda: NOW))
    text = generate_latest(registry).decode()
    assert 'voicewatch_answer_rate{carrier="China Mobile"} 0.8' in text
    assert "voicewatch_balance 321.0" in text
    assert "voicewatch_good_pull_age_seconds 30.0" in text
    assert 'voicewatch_sends_10m{code="3"} 2.0' in text
    assert 'voicewatch_sends_10m{code="other"} 1.0' in text  # unknown codes: one bounded label


def test_alert_figures_register_beside_the_services_own_metrics(engine):
    from ingest.service.metrics import IngestMetrics

    metrics = IngestMetrics(engine)
    metrics.registry.register(AlertMetrics(engine, clock=lambda: NOW))
    text = generate_latest(metrics.registry).decode()
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert "voicewatch_answer_rate" in names
    assert len(names) == len(set(names))  # the registry does not check custom collectors
