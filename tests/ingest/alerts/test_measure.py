"""Each rule kind measured over a real database at a clock the test sets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from ingest.alerts.balance import Balance, record_balance
from ingest.alerts.measure import MEASURES, measure
from ingest.alerts.rules import KINDS, RulesError, load_rules
from tests.ingest.alerts.support import add_calls, add_pull_run, default_rule

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # 14:00 China time


def findings(engine, rule, now=NOW):
    with engine.connect() as connection:
        return {f.subject: f for f in measure(connection, rule, now)}


def test_default_rules_load_and_cover_every_kind():
    rules = load_rules()
    assert {rule.kind for rule in rules} == set(KINDS) == set(MEASURES)
    assert all(rule.window > 0 and rule.repeat > 0 for rule in rules)


@pytest.mark.parametrize(
    "text",
    [
        "[rules.x]\nkind = 'nonsense'\nthreshold = 1\n",
        "[rules.x]\nkind = 'answer_rate'\n",
        "[rules.x]\nkind = 'answer_rate'\nthreshold = 1\nwindow = 'ten minutes'\n",
        "[rules.x]\nkind = 'answer_rate'\nthreshold = 1\nmin_sample = -3\n",
        "[rules.x]\nkind = 'answer_rate'\nthreshold = 1\nscope = 'city'\n",
        "not toml [",
        "",
    ],
)
def test_a_broken_rules_file_is_refused_with_the_reason(tmp_path, text):
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(RulesError):
        load_rules(path)


def test_answer_rate_drop_fires_against_the_fallback_baseline_without_history(engine):
    add_calls(engine, NOW - timedelta(minutes=5), 50, 15)
    (finding,) = findings(engine, default_rule("answer_rate_drop")).values()
    assert finding.breached and finding.value == pytest.approx(0.30)
    assert finding.baseline == pytest.approx(0.78) and finding.example.startswith("sid ")


def test_a_handful_of_failed_calls_never_fires(engine):
    add_calls(engine, NOW - timedelta(minutes=5), 10, 0)
    (finding,) = findings(engine, default_rule("answer_rate_drop")).values()
    assert finding.value == 0 and not finding.breached


def test_answer_rate_baseline_is_the_same_hours_on_previous_days(engine):
    # Yesterday and the day before at this hour: 50 % answered; today 40 %: normal here.
    for days in (1, 2):
        add_calls(engine, NOW - timedelta(days=days, minutes=5), 60, 30)
    add_calls(engine, NOW - timedelta(minutes=5), 60, 24)
    # Another hour of yesterday at 95 % must not count toward this hour's baseline.
    add_calls(engine, NOW - timedelta(days=1, hours=3), 200, 190)
    (finding,) = findings(engine, default_rule("answer_rate_drop")).values()
    assert finding.baseline == pytest.approx(0.50) and not finding.breached


def test_answer_rate_baseline_is_yesterdays_hour_not_a_handful_of_calls(engine):
    rule = default_rule("answer_rate_drop_carrier")  # 2 minutes, 30 points
    add_calls(engine, NOW - timedelta(days=1, minutes=40), 200, 180)  # 90 % over the hour
    add_calls(engine, NOW - timedelta(days=1, seconds=90), 45, 45)  # a lucky 2 minutes: 100 %
    add_calls(engine, NOW - timedelta(seconds=90), 45, 30)  # 67 %: normal noise at n = 45
    finding = findings(engine, rule)["carrier=China Mobile"]
    assert finding.baseline == pytest.approx(225 / 245) and not finding.breached


def test_carrier_outage_fires_for_that_carrier_only(engine):
    add_calls(engine, NOW - timedelta(minutes=1), 50, 0, carrier="China Mobile")
    add_calls(engine, NOW - timedelta(minutes=1), 50, 44, carrier="China Unicom")
    by_subject = findings(engine, default_rule("answer_rate_drop_carrier"))
    assert by_subject["carrier=China Mobile"].breached
    assert not by_subject["carrier=China Unicom"].breached


def test_province_rule_groups_by_province(engine):
    for province in ("Guangdong", "Jiangsu", "Hebei"):
        add_calls(engine, NOW - timedelta(minutes=5), 45, 4, province=province)
    add_calls(engine, NOW - timedelta(minutes=5), 45, 40, province="Beijing")
    breached = {
        s
        for s, f in findings(engine, default_rule("answer_rate_drop_province")).items()
        if f.breached
    }
    assert breached == {"province=Guangdong", "province=Jiangsu", "province=Hebei"}


def test_reports_missing_counts_sends_old_enough_to_have_one(engine):
    add_calls(engine, NOW - timedelta(minutes=4), 20, 0, reported=False)
    add_calls(engine, NOW - timedelta(minutes=4), 5, 5)
    add_calls(engine, NOW - timedelta(seconds=90), 50, 0, reported=False)  # too fresh to count
    (finding,) = findings(engine, default_rule("reports_missing")).values()
    assert finding.sample == 25 and finding.value == pytest.approx(0.8) and finding.breached


def test_pull_stale_after_the_last_successful_pull(engine):
    add_pull_run(engine, NOW - timedelta(minutes=10))
    add_pull_run(engine, NOW - timedelta(minutes=1), error="ConnectTimeout")
    (finding,) = findings(engine, default_rule("pull_stale")).values()
    assert finding.breached and finding.value == pytest.approx(599)


def test_pull_stale_is_silent_where_pull_is_not_used(engine):
    assert findings(engine, default_rule("pull_stale")) == {}


def test_upstream_errors_count_unanswered_sends_and_failed_pulls(engine):
    add_calls(engine, NOW - timedelta(minutes=2), 4, 4)
    add_calls(engine, NOW - timedelta(minutes=2), 3, 0, result_code=-50, http_status=None)
    add_pull_run(engine, NOW - timedelta(minutes=1), error="HTTP 500")
    (finding,) = findings(engine, default_rule("upstream_errors")).values()
    assert finding.sample == 8 and finding.value == pytest.approx(0.5) and finding.breached


def test_balance_refusals_fire_on_the_first_code_3(engine):
    rule = default_rule("refusals_balance")
    add_calls(engine, NOW - timedelta(minutes=2), 5, 5)
    assert not findings(engine, rule)[""].breached
    add_calls(engine, NOW - timedelta(minutes=1), 1, 0, result_code=3, http_status=400)
    assert findings(engine, rule)[""].breached


def test_throttling_refusals_fire_only_above_their_usual_level(engine):
    rule = default_rule("refusals_throttle")
    for days in range(1, 8):
        add_calls(
            engine, NOW - timedelta(days=days, minutes=5), 30, 0, result_code=22, http_status=400
        )
    add_calls(engine, NOW - timedelta(minutes=5), 40, 0, result_code=22, http_status=400)
    finding = findings(engine, rule)[""]
    assert finding.baseline == pytest.approx(30) and not finding.breached
    add_calls(engine, NOW - timedelta(minutes=4), 60, 0, result_code=22, http_status=400)
    assert findings(engine, rule)[""].breached


def test_balance_low_and_runway(engine):
    with Session(engine) as session, session.begin():
        record_balance(session, Balance(120.0, 100.0), NOW - timedelta(minutes=1))
    add_calls(engine, NOW - timedelta(minutes=30), 60, 50)  # 60 an hour: 2 h left
    assert findings(engine, default_rule("balance_low"))[""].breached
    runway = findings(engine, default_rule("balance_runway"))[""]
    assert runway.value == pytest.approx(2.0) and runway.breached


def test_fee_spike_against_the_same_hour_before(engine):
    for days in range(1, 8):
        add_calls(engine, NOW - timedelta(days=days, minutes=30), 20, 15)
    add_calls(engine, NOW - timedelta(minutes=30), 50, 40)
    assert not findings(engine, default_rule("fee_spike"))[""].breached
    add_calls(engine, NOW - timedelta(minutes=20), 40, 30)
    assert findings(engine, default_rule("fee_spike"))[""].breached


def test_one_day_of_history_is_the_baseline_not_a_seventh_of_it(engine):
    # A day-old installation with the same traffic as yesterday: nothing is "above normal".
    add_calls(engine, NOW - timedelta(days=1, hours=2), 1, 1)  # it started 2 hours before
    for at in (NOW - timedelta(days=1, minutes=10), NOW - timedelta(minutes=10)):
        add_calls(engine, at, 120, 100)
        add_calls(engine, at, 30, 0, result_code=8, http_status=400)
    spike = findings(engine, default_rule("fee_spike"))[""]
    assert spike.baseline == pytest.approx(120) and not spike.breached
    throttle = findings(engine, default_rule("refusals_throttle"))[""]
    assert throttle.baseline == pytest.approx(30) and not throttle.breached


def test_the_day_voicewatch_started_on_is_no_baseline(engine):
    # Started yesterday 10 minutes before this time of day: yesterday's hour is not a whole one.
    add_calls(engine, NOW - timedelta(days=1, minutes=10), 20, 15)
    add_calls(engine, NOW - timedelta(minutes=10), 120, 100)
    spike = findings(engine, default_rule("fee_spike"))[""]
    assert spike.baseline == 0 and not spike.breached


def test_hot_numbers_rising(engine):
    for i in range(6):
        add_calls(engine, NOW - timedelta(minutes=10), 5, 0, mobile=f"1390000{i:04d}")
    # No traffic the hour before: a fresh installation cannot tell "rising".
    assert not findings(engine, default_rule("hot_numbers"))[""].breached
    add_calls(engine, NOW - timedelta(minutes=90), 150, 120)  # an ordinary hour before...
    # ...but only from its middle on: voicewatch did not see all of it.
    assert not findings(engine, default_rule("hot_numbers"))[""].breached
    add_calls(engine, NOW - timedelta(minutes=130), 1, 1)  # it was running before that hour
    assert findings(engine, default_rule("hot_numbers"))[""].breached


def test_throttling_without_history_is_not_above_normal(engine):
    add_calls(engine, NOW - timedelta(minutes=5), 60, 0, result_code=8, http_status=400)
    assert not findings(engine, default_rule("refusals_throttle"))[""].breached
