"""Report reasons explained: every text the simulator and the seed produce is known, and an
unknown one comes back as it came."""

from __future__ import annotations

import pytest

from ingest.seed.history import FAIL_REASONS, INCIDENT_REASONS
from ingest.simulator import outcomes
from ingest.yunpian.reasons import CATEGORY_LABELS, Category, explain


def _simulated_reasons() -> set[str]:
    weighted = (
        *FAIL_REASONS,
        *INCIDENT_REASONS,
        *outcomes._MOBILE_FAILURES,
        *outcomes._FIXED_LINE_FAILURES,
        *outcomes._FOREIGN_FAILURES,
    )
    return {text for text, _weight in weighted}


@pytest.mark.parametrize("text", sorted(_simulated_reasons()))
def test_every_reason_the_demo_produces_is_explained(text):
    reason = explain(text)
    assert reason.known, text
    assert reason.meaning_en and reason.meaning_zh and reason.advice_en and reason.advice_zh


def test_a_number_that_does_not_exist_is_told_apart_from_no_answer():
    assert explain("空号").category is Category.NO_SUCH_NUMBER
    assert explain("无人接听").category is Category.NO_ANSWER
    assert explain("用户信号不佳、关机等").category is Category.PHONE_OFF


def test_full_width_and_extra_spaces_match_the_same_reason():
    assert explain("Send\u3000Exception ").category is Category.PLATFORM


def test_an_unknown_reason_is_kept_as_it_came():
    reason = explain("运营商线路维护")
    assert not reason.known
    assert reason.category is Category.UNKNOWN
    assert reason.text == "运营商线路维护"
    assert reason.meaning_en == "运营商线路维护"


def test_no_reason_at_all_is_unknown_and_says_so():
    assert explain(None).meaning_en == "no reason given"


def test_every_category_has_both_labels():
    assert set(CATEGORY_LABELS) == set(Category)
    assert all(en and zh for en, zh in CATEGORY_LABELS.values())
