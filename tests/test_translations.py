"""Every user-facing string marked for translation has its Chinese translation, and the
language helpers format numbers, dates and durations per language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ingest.i18n import CHINESE, ENGLISH, LOCALES, Language, cli_language, negotiate

ROOT = Path(__file__).parents[1]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def _marked_strings() -> set[str]:
    found = set()
    for folder in ("ingest", "dashboard"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_marked_string_has_a_chinese_translation():
    with (LOCALES / CHINESE / "LC_MESSAGES" / "voicewatch.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
        and message.string
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    missing = sorted(_marked_strings() - translated)
    assert missing == [], f"run `make messages` and translate: {missing[:20]}"


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        (("zh-CN",), CHINESE),
        (("zh-Hans-CN",), CHINESE),
        ((None, "zh_CN.UTF-8"), CHINESE),
        (("en-US",), ENGLISH),
        (("fr-FR",), ENGLISH),
        ((), ENGLISH),
        (("not a locale!", "zh"), CHINESE),
    ],
)
def test_the_closest_supported_language_is_chosen(preferences, expected):
    assert negotiate(*preferences) == expected


def test_the_cli_follows_voicewatch_lang_before_lang():
    assert cli_language({"LANG": "en_US.UTF-8", "VOICEWATCH_LANG": "zh_CN"}).chinese
    assert cli_language({"LANG": "zh_CN.UTF-8"}).chinese
    assert not cli_language({}).chinese


def test_durations_read_as_words_in_each_language():
    assert Language(CHINESE).duration(timedelta(minutes=3, seconds=20)) == "3分钟20秒"
    assert Language(ENGLISH).duration(timedelta(minutes=3, seconds=20)) == "3 min 20 sec"
    assert Language(ENGLISH).duration(timedelta(hours=1, seconds=5)) == "1 hr"
    assert Language(CHINESE).duration(timedelta(days=1, hours=3, minutes=2)) == "1天3小时"


def test_dates_and_numbers_follow_the_language():
    moment = datetime(2026, 12, 2, 6, 5, tzinfo=UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    assert Language(CHINESE).datetime(moment) == "12月2日 14:05:00"
    assert Language(ENGLISH).datetime(moment) == "Dec 2, 14:05:00"
    assert Language(ENGLISH).percent(0.8612) == "86.1%"
    assert Language(CHINESE).number(1234567) == "1,234,567"
