"""Each page run by Streamlit's AppTest against real databases: the numbers people see."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from dashboard import state
from ingest.settings import Secret
from ingest.store.engine import make_engine
from ingest.store.models import Send
from ingest.store.writes import code_digest
from tests.fixtures.dashboard import add_rows, report_row, send_row
from tests.servers import wait_until

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
MOBILE = "15205201314"
MASKED = re.compile(r"^(\d{3}\*{4}\d{4}|\+\d{3}\**\d{4})$")


@pytest.fixture
def open_page(monkeypatch):
    """Run a page of the app against `db_url`, with the given extra environment."""

    def run(page: str, db_url: str, **env: str) -> AppTest:
        monkeypatch.setenv("VOICEWATCH_DB", db_url)
        for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
            monkeypatch.setenv(name, env.pop(name, ""))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # The first run must be of the app itself, so st.navigation registers the pages.
        at = AppTest.from_file(str(APP), default_timeout=30).run()
        return at if page == "overview" else at.switch_page(f"app_pages/{page}.py").run()

    return run


@pytest.fixture
def small_db(tmp_path):
    """A database holding a few hand-made sends to 15205201314 in the last hour."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    engine = make_engine(url)
    now = datetime.now(UTC)
    answered = send_row(MOBILE, now - timedelta(minutes=50))
    failed = send_row(MOBILE, now - timedelta(minutes=20))
    add_rows(
        engine,
        [answered, failed],
        [report_row(answered, "SUCCESS", 12), report_row(failed, "FAIL", 30)],
    )
    yield url, engine, failed
    engine.dispose()


def unmask(at: AppTest) -> None:
    next(b for b in at.sidebar.button if b.label == "Unmask").click().run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_tiles_show_the_seeded_totals(open_page, seeded_sqlite):
    # A page view's "now" is floored to 10 s: wait until it covers the seed's last send.
    wait_until(lambda: state.now() > seeded_sqlite.summary.end, timeout=15)
    at = open_page("overview", seeded_sqlite.url)
    at.sidebar.selectbox(key="range").set_value("Last 30 days").run()
    assert not at.exception
    s = seeded_sqlite.summary
    shown = metrics(at)
    assert shown["Sends"] == f"{s.sends:,}"
    assert shown["Accepted"] == f"{s.accepted:,}"
    assert shown["Throttled"] == f"{s.throttled:,}"
    assert shown["Answer rate"] == f"{s.answered / (s.answered + s.failed):.1%}"
    assert shown["Fees (credits)"] == f"{s.fees:,.0f}"


def test_carrier_filter_changes_the_tiles(open_page, seeded_sqlite):
    at = open_page("overview", seeded_sqlite.url)
    at.sidebar.selectbox(key="range").set_value("Last 30 days").run()
    everyone = int(metrics(at)["Sends"].replace(",", ""))
    at.sidebar.multiselect(key="carriers").set_value(["China Telecom"]).run()
    with seeded_sqlite.engine.connect() as conn:
        telecom = len(conn.execute(select(Send.id).where(Send.carrier == "China Telecom")).all())
    assert int(metrics(at)["Sends"].replace(",", "")) == telecom < everyone


def test_failures_page_masks_every_number(open_page, seeded_sqlite):
    at = open_page("failures", seeded_sqlite.url)
    assert not at.exception
    latest = next(df.value for df in at.dataframe if "stage" in df.value and "sid" in df.value)
    assert len(latest) > 0
    assert latest["mobile"].map(lambda m: bool(MASKED.match(m))).all()
    assert "Download latest failures (CSV)" in [b.label for b in at.get("download_button")]


def test_throttling_page_lists_the_number_being_pumped(open_page, seeded_sqlite):
    # The seeded history was made under these account limits.
    limits = {"VOICEWATCH_LIMIT_PER_HOUR": "5", "VOICEWATCH_LIMIT_PER_DAY": "10"}
    at = open_page("throttling", seeded_sqlite.url, **limits)
    assert not at.exception
    assert int(metrics(at)["Numbers at a limit now"]) >= 1
    at_limit = at.dataframe[0].value
    assert at_limit["mobile"].str.startswith("+447*****").any()


def test_health_page_counts_malformed_bodies(open_page, seeded_sqlite):
    at = open_page("health", seeded_sqlite.url)
    assert not at.exception
    shown = metrics(at)
    assert shown["Malformed, 24 h"] == "3"
    malformed = next(df.value for df in at.dataframe if "parse_error" in df.value)
    assert len(malformed) == 3


def test_lookup_shows_the_timeline_masked(open_page, small_db):
    url, _, failed = small_db
    at = open_page("lookup", url)
    at.text_input(key="lookup_input").input(MOBILE).run()
    assert not at.exception
    # Shown as text: the page escapes the Markdown in it (`152\*\*\*\*1314`).
    assert any("152****1314" in h.value.replace("\\", "") for h in at.subheader)
    timeline = at.dataframe[0].value
    assert timeline["mobile"].tolist() == ["152****1314", "152****1314"]
    assert timeline["status"].tolist() == ["FAIL", "SUCCESS"]
    assert timeline["sid"].iloc[0] == failed["sid"]
    assert (metrics(at)["Answered"], metrics(at)["Not answered"]) == ("1", "1")


def test_unmask_password_reveals_full_numbers(open_page, small_db):
    url, _, _ = small_db
    at = open_page("lookup", url, VOICEWATCH_UNMASK_PASSWORD="open-sesame")
    at.text_input(key="lookup_input").input(MOBILE).run()
    assert at.dataframe[0].value["mobile"].tolist() == ["152****1314", "152****1314"]
    at.sidebar.text_input(key="unmask_entered").input("guess")
    unmask(at)
    assert "Wrong unmask password." in [e.value for e in at.sidebar.error]
    assert at.dataframe[0].value["mobile"].iloc[0] == "152****1314"
    at.sidebar.text_input(key="unmask_entered").input("open-sesame")
    unmask(at)
    assert at.dataframe[0].value["mobile"].tolist() == [MOBILE, MOBILE]
    assert any(MOBILE in h.value for h in at.subheader)


def test_login_is_required_when_a_password_is_set(open_page, small_db):
    url, _, _ = small_db
    at = open_page("overview", url, VOICEWATCH_DASHBOARD_PASSWORD="letmein")
    assert not at.metric and not at.dataframe
    at.text_input[0].input("li.wei")
    at.text_input[1].input("nope")
    at.button[0].click().run()
    assert "Wrong password, or no name given." in [e.value for e in at.error]
    assert not at.metric
    at.text_input[1].input("letmein")
    at.button[0].click().run()
    assert metrics(at)["Sends"] == "2"


def test_send_page_warns_before_a_send_the_throttle_would_refuse(open_page, small_db):
    url, engine, _ = small_db
    key = "page-test-key"
    digest = code_digest(Secret(key), MOBILE, "246810")
    add_rows(
        engine, [send_row(MOBILE, datetime.now(UTC) - timedelta(seconds=5), code_digest=digest)]
    )
    at = open_page("send_test", url, VOICEWATCH_DIGEST_KEY=key)
    at.text_input(key="send_actor").input("li.wei")
    at.text_input[1].input(MOBILE)
    at.text_input(key="test_code").input("246810")
    at.button[0].click().run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "Yunpian would refuse this send now" in warnings and "code 8" in warnings
    assert any("152****1314" in s.value.replace("\\", "") for s in at.subheader)
    labels = {b.label: b.proto.type for b in at.button}
    assert labels["Send anyway"] == "secondary" and labels["Cancel"] == "primary"


def test_send_page_sends_and_shows_the_report_when_it_is_stored(open_page, small_db, simulator):
    url, engine, _ = small_db
    at = open_page(
        "send_test",
        url,
        YUNPIAN_APIKEY=simulator.apikey,
        YUNPIAN_VOICE_URL=simulator.url,
        VOICEWATCH_DIGEST_KEY="page-test-key",
    )
    at.text_input(key="send_actor").input("li.wei")
    at.text_input[1].input("13912345678")
    at.button[0].click().run()
    next(b for b in at.button if b.label == "Yes, call now").click().run()
    assert not at.exception
    success = " ".join(s.value for s in at.success)
    sid = re.search(r"sid ([0-9a-f]+),", success).group(1)
    with engine.connect() as conn:
        send = conn.execute(select(Send).where(Send.sid == sid)).mappings().one()
    assert (send["source"], send["actor"], send["mobile"]) == ("dashboard", "li.wei", "13912345678")
    assert any("Waiting for the report" in i.value for i in at.info)
    # Ingest stores the report (pull or push); the page's next poll shows it.
    add_rows(engine, reports=[report_row(dict(send), "SUCCESS", 14, duration=18)])
    at.run()
    assert any("call ended" in s.value and "lasted 18 sec" in s.value for s in at.success)
