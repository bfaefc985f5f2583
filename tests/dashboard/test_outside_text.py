"""Text from outside — a report's error_msg, a send's answer, a `?sid=` in the URL, a raw body —
shows as the characters it is on every page: no Markdown or HTML of it renders, numbers in it
are masked, and no CSV download carries a cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import markdown_it
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from dashboard.plain import FORMULA_START
from ingest.store.engine import make_engine
from tests.fixtures.dashboard import add_rows, download_bytes, report_row, send_row

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
MOBILE = "15205201314"
CALLEE_IN_TEXT = "+86 139-1234-5678"  # a number inside free text, split as people write it
CALLEE_MASKED = "+861******5678"  # as the number columns mask +86 numbers
# Each a way to make a viewer's browser render, link or fetch something, or to run a formula.
MARKUP = (
    "**bold** [Session expired — log in again](https://evil.example/login) "
    "![x](https://evil.example/p.png) <img src=https://evil.example/i.png> "
    "www.evil.example :red[red] $x^2$ <a href='https://evil.example'>a</a> &lt;b&gt;"
)
FORMULAS = ('=HYPERLINK("https://evil.example","click")', "@SUM(1+1)", "+1+1", "-1+1", "\t=1")
PAGES = ("overview", "failures", "throttling", "health", "lookup", "send_test")


def add_poisoned_rows(engine) -> dict:
    """Failed calls whose error_msg, result_msg, a failed pull and a malformed raw body carry
    markup, formulas and a phone number; returns the first send."""
    now = datetime.now(UTC)
    sends, reports = [], []
    for i, text in enumerate((MARKUP, *FORMULAS, "＝1+1")):
        send = send_row(MOBILE, now - timedelta(minutes=30 - i))
        sends.append(send)
        reports.append(report_row(send, "FAIL", 20, error_msg=f"{text} callee {CALLEE_IN_TEXT}"))
    refused = send_row(
        MOBILE, now - timedelta(minutes=1), result_code=2, result_msg=f"=1+1 {MARKUP}"
    )
    raw = {
        "received_at": now - timedelta(minutes=5),
        "channel": "push",
        "content_type": "text/plain",
        "body": f"=cmd|' /C calc'!A0 {MARKUP} mobile={CALLEE_IN_TEXT}".encode(),
        "truncated": False,
        "parse_status": "malformed",
        "parse_error": f"{MARKUP} from {CALLEE_IN_TEXT}",
        "report_count": 0,
    }
    failed_pull = {
        "started_at": now - timedelta(seconds=20),
        "finished_at": now - timedelta(seconds=19),
        "pages": 0,
        "reports": 0,
        "error": f"Yunpian error -50: {MARKUP} for {CALLEE_IN_TEXT}",
    }
    add_rows(engine, [*sends, refused], reports, [raw], [failed_pull])
    return sends[0]


@pytest.fixture
def poisoned_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'poisoned.db'}"
    engine = make_engine(url)
    first = add_poisoned_rows(engine)
    yield url, first
    engine.dispose()


@pytest.fixture
def downloads(monkeypatch) -> list[bytes]:
    """The bytes every download button the pages draw would hand the viewer."""
    offered: list[bytes] = []
    original = streamlit.download_button

    def recording(label, data, *args, **kwargs):
        offered.append(download_bytes(data))
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return offered


def run(page: str, db_url: str, monkeypatch, sid: str | None = None) -> AppTest:
    monkeypatch.setenv("VOICEWATCH_DB", db_url)
    monkeypatch.setenv("VOICEWATCH_DASHBOARD_PASSWORD", "")
    monkeypatch.setenv("VOICEWATCH_UNMASK_PASSWORD", "")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py")
    if sid is not None:
        at.query_params["sid"] = sid
    at.sidebar.selectbox(key="range").set_value("Last 24 h")
    return at.run()


def markdown_bodies(at: AppTest) -> list[str]:
    """Every Markdown source the page handed to the browser (alerts, captions, headers…)."""
    bodies: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        for field in ("body", "label"):
            if proto is not None and hasattr(proto, field) and getattr(proto, field):
                bodies.append(getattr(proto, field))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return bodies


def rendered_markup(bodies: list[str]) -> list[str]:
    """The HTML tags and links a CommonMark+GFM renderer makes of outside text in `bodies`."""
    md = markdown_it.MarkdownIt("commonmark", {"html": True})
    made = []
    for body in bodies:
        html = md.render(body)
        for needle in ("<a ", "<img", "<strong>", 'evil.example"', "<em>"):
            if needle in html and ("evil" in body or "bold" in body):
                made.append(f"{needle} from {body[:80]!r}")
    return made


@pytest.mark.parametrize("page", PAGES)
def test_outside_text_renders_as_text_on_every_page(page, poisoned_db, monkeypatch):
    url, _ = poisoned_db
    at = run(page, url, monkeypatch)
    if page == "lookup":
        at.text_input(key="lookup_input").input(MOBILE).run()
    assert not at.exception
    assert rendered_markup(markdown_bodies(at)) == []


def test_lookup_banner_shows_the_error_msg_literally(poisoned_db, monkeypatch):
    url, first = poisoned_db
    at = run("lookup", url, monkeypatch, sid=first["sid"])
    banner = at.error[0].value
    assert rendered_markup([banner]) == []
    shown = markdown_it.MarkdownIt("commonmark").render(banner)
    assert "[Session expired — log in again](https" in shown.replace("\u2060", "")
    assert CALLEE_MASKED in banner.replace("\\", "") and "1234" not in banner


def test_a_sid_in_the_url_renders_as_text(poisoned_db, monkeypatch):
    url, _ = poisoned_db
    at = run("lookup", url, monkeypatch, sid=MARKUP)
    assert not at.exception
    assert rendered_markup(markdown_bodies(at)) == []
    assert any("Nothing stored for" in w.value for w in at.warning)


def test_numbers_inside_free_text_are_masked_in_tables(poisoned_db, monkeypatch):
    url, _ = poisoned_db
    for page in ("failures", "health", "lookup"):
        at = run(page, url, monkeypatch)
        if page == "lookup":
            at.text_input(key="lookup_input").input(MOBILE).run()
        shown = "\n".join(df.value.to_csv() for df in at.dataframe)
        assert CALLEE_MASKED in shown, page
        assert "1234-5678" not in shown and "13912345678" not in shown, page


def test_no_csv_download_carries_a_formula(poisoned_db, monkeypatch, downloads):
    url, _ = poisoned_db
    for page in PAGES:
        at = run(page, url, monkeypatch)
        if page == "lookup":
            at.text_input(key="lookup_input").input(MOBILE).run()
        assert not at.exception
    assert len(downloads) >= 10
    cells = [
        cell
        for data in downloads
        for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))
        for cell in row
    ]
    assert [cell for cell in cells if cell.lstrip(" ").startswith(FORMULA_START)] == []
    assert any(cell.startswith("'=HYPERLINK(") for cell in cells)
    assert any(cell.startswith("'=cmd|") for cell in cells)
    assert "1234-5678" not in "".join(cells)
