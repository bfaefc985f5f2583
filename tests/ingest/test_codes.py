"""Yunpian's return codes explained in both languages: Yunpian's own Chinese words where they
are clear, ours where they are not, and advice for support in each."""

from __future__ import annotations

import re

import pytest

from ingest.i18n import CHINESE, ENGLISH
from ingest.yunpian.codes import CODES, lookup

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_meaning_and_advice_in_both_languages(code):
    known = CODES[code]
    for chinese in (known.meaning_in(CHINESE), known.advice_in(CHINESE)):
        assert CJK.search(chinese), (code, chinese)
    for english in (known.meaning_in(ENGLISH), known.advice_in(ENGLISH)):
        assert english and not CJK.search(english), (code, english)


def test_the_chinese_meaning_is_yunpians_own_words_where_they_are_clear():
    assert lookup(3).meaning_in(CHINESE) == "账户余额不足" == lookup(3).msg
    assert lookup(8).meaning_in(CHINESE) == lookup(8).msg
    assert lookup(0).meaning_in(CHINESE) == "成功"  # Yunpian says "OK"


def test_existing_callers_keep_their_english_meaning_and_yunpians_msg():
    assert lookup(-5).meaning == "call rate exceeded" == lookup(-5).meaning_en
    assert lookup(-5).msg == "访问频率超限"
    assert lookup(-5).retry_later


def test_an_unknown_code_is_explained_in_both_languages():
    unknown = lookup(4242)
    assert unknown.meaning == "unknown code 4242"
    assert "4242" in unknown.meaning_in(CHINESE) and CJK.search(unknown.meaning_in(CHINESE))
    assert CJK.search(unknown.advice_in(CHINESE)) and unknown.advice_in(ENGLISH)
