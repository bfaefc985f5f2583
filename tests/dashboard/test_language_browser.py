"""The language switch in real headless Chromium: a page in English, the same page in
Chinese after picking 简体中文, still Chinese after a reload (the language cookie), and
screenshots of every page of the Chinese UI for README.zh-CN.md (a CJK font:
fonts-wqy-microhei)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.lang import COOKIE
from tests.servers import wait_until

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
ZONE_NOTE = "所有时间均为北京时间（UTC+8）。"
# Every page: its path, its Chinese title and words it shows last (the screenshot waits for
# them), shot to docs/screenshots/zh_<page>.png.
CHINESE_PAGES = (
    ("", "概览", "下载全部发送及其状态报告"),
    ("failures", "失败分析", "下载最近的失败"),
    ("throttling", "限流", "下载频繁呼叫的号码"),
    ("health", "采集健康", "下载拉取记录"),
    ("alerts", "告警", "通知渠道"),
    ("lookup", "号码查询", "号码或 sid"),
    ("send_test", "发送测试呼叫", "下载查看者审计"),
    ("guard", "风控", "启用前回放"),
)


def _body(browser) -> str:
    return browser.find_element("tag name", "body").text


def _settled(browser, *texts: str) -> bool:
    running = browser.find_elements(
        "css selector", '[data-testid="stStatusWidget"] svg, [data-testid="stSkeleton"]'
    )
    body = _body(browser)
    return not running and all(text in body for text in texts)


def _pick_language(browser, name: str) -> None:
    switch = browser.find_element(
        "css selector", "input[role='combobox'][aria-label='Language · 语言']"
    )
    switch.find_element("xpath", "following-sibling::button").click()
    option = f"//*[@role='option'][normalize-space(.)='{name}']"
    wait_until(lambda: browser.find_elements("xpath", option), timeout=10)
    browser.find_element("xpath", option).click()


def _shot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_switching_to_chinese_translates_the_page_and_survives_a_reload(browser, dashboard_url):
    browser.get(f"{dashboard_url}/failures")
    try:
        wait_until(lambda: _settled(browser, "Time range", "Send test call"), timeout=45)
        _pick_language(browser, "简体中文")
        wait_until(lambda: _settled(browser, "时间范围", "发送测试呼叫", "失败分析"), timeout=45)
        assert "Time range" not in _body(browser)
        browser.refresh()
        wait_until(lambda: _settled(browser, "时间范围", "发送测试呼叫"), timeout=45)
        assert browser.get_cookie(COOKIE)["value"] == "zh_CN"
        for path, *words in CHINESE_PAGES:
            browser.get(f"{dashboard_url}/{path}")
            wait_until(lambda words=words: _settled(browser, ZONE_NOTE, *words), timeout=45)
            _shot(browser, f"zh_{path or 'overview'}")
        _pick_language(browser, "English")
        wait_until(lambda: _settled(browser, "Time range", "Overview"), timeout=45)
    finally:
        # The browser is shared by the session: leave it as the other browser tests expect.
        browser.delete_cookie(COOKIE)


def _browser_language(browser, accept_language: str) -> None:
    # navigator.language, which Streamlit hands to the app as st.context.locale, follows the
    # emulated Accept-Language.
    agent = browser.execute_script("return navigator.userAgent")
    browser.execute_cdp_cmd(
        "Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": accept_language}
    )


def test_a_chinese_browser_gets_chinese_and_a_forged_cookie_is_ignored(browser, dashboard_url):
    browser.get(f"{dashboard_url}/throttling")
    wait_until(lambda: _settled(browser, "Time range"), timeout=45)
    try:
        _browser_language(browser, "zh-CN,zh")
        browser.refresh()
        assert browser.execute_script("return navigator.language") == "zh-CN"
        wait_until(lambda: _settled(browser, "时间范围", "限流"), timeout=45)
        _browser_language(browser, "en-US,en")
        for forged in ("de", "<b>zh_CN</b>", "zh_CN%00"):
            browser.add_cookie({"name": COOKIE, "value": forged, "path": "/"})
            browser.refresh()
            wait_until(lambda: _settled(browser, "Time range", "Throttling"), timeout=45)
        browser.add_cookie({"name": COOKIE, "value": "zh_CN", "path": "/"})
        browser.refresh()
        wait_until(lambda: _settled(browser, "时间范围"), timeout=45)
    finally:
        _browser_language(browser, "en-US,en")
        browser.delete_cookie(COOKIE)
