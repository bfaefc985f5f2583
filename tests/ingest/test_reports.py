"""The one report parser shared by pull and push: Yunpian's format, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.yunpian.client import (
    MalformedAnswer,
    YunpianError,
    interpret_pull_answer,
    interpret_pull_page,
    interpret_send_answer,
)
from ingest.yunpian.reports import (
    ReportFormatError,
    loads_reports,
    parse_push_form,
    parse_reports,
    parse_usual_reports,
    split_reports,
)

# The reference's own example, byte for byte.
REFERENCE_EXAMPLE = (
    '[{"sid":"6e77feeab89f445387308db604e2ec8d","uid":null,"user_receive_time":"2015-07-01 14:29:12",'
    '"duration":10,"error_msg":null,"mobile":"15205201314","report_status":"SUCCESS"},'
    '{"sid":"3375655611","uid":null,"user_receive_time":"2020-07-01 14:33:23","duration":0,'
    '"error_msg":"failed","mobile":"+37258483726","report_status":"FAIL"}]'
)


def test_reference_example_parses_with_china_time_as_utc():
    answered, failed = parse_reports(json.loads(REFERENCE_EXAMPLE))
    assert answered.sid == "6e77feeab89f445387308db604e2ec8d"
    assert answered.answered and answered.duration == 10 and answered.uid is None
    assert answered.user_receive_time == datetime(2015, 7, 1, 6, 29, 12, tzinfo=UTC)
    assert (
        failed.status == "FAIL" and failed.error_msg == "failed" and failed.mobile == "+37258483726"
    )


def test_push_form_carries_url_encoded_json_in_voice_status():
    body = urlencode({"voice_status": REFERENCE_EXAMPLE}).encode()
    assert [r.sid for r in parse_push_form(body).reports] == [
        "6e77feeab89f445387308db604e2ec8d",
        "3375655611",
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"voice_status": []}', "not form-encoded"),
        (b"other=1", "no voice_status"),
        (b"voice_status=not-json", "not JSON"),
        (b"voice_status=%7B%7D", "expected a JSON array"),
        (b"voice_status=%5B%5D&voice_status=%5B%5D", "more than once"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_push_bodies_say_what_is_wrong(body, reason):
    with pytest.raises(ReportFormatError, match=reason):
        parse_push_form(body)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("report_status", None, "report_status"),
        ("report_status", "  ", "report_status"),
        ("report_status", "DELIVERED_TO_VOICEMAIL", "at most 16"),
        ("sid", None, "sid"),
        ("mobile", 15205201314, "mobile"),
        ("duration", "ten", "duration"),
        ("duration", -1, "negative"),
        ("user_receive_time", "2015/07/01 14:29", "YYYY-MM-DD"),
    ],
)
def test_invalid_report_fields_are_named(field, value, reason):
    report = json.loads(REFERENCE_EXAMPLE)[0] | {field: value}
    with pytest.raises(ReportFormatError, match=reason):
        parse_reports([report])


def test_error_answer_becomes_yunpian_error_with_code_and_status():
    body = (
        '{"http_status_code":400,"code":2,"msg":"请求参数格式错误","detail":"参数 code 格式不正确"}'
    )
    with pytest.raises(YunpianError) as caught:
        interpret_send_answer(400, body.encode())
    assert (caught.value.code, caught.value.http_status, caught.value.category) == (2, 400, "input")


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b'{"count": 1, "fee"', b""])
def test_non_json_or_truncated_answers_are_errors_not_crashes(body):
    with pytest.raises(MalformedAnswer):
        interpret_send_answer(200, body)
    with pytest.raises(MalformedAnswer):
        interpret_pull_answer(200, body)


@given(st.binary(max_size=512))
def test_any_push_body_parses_or_is_refused_with_a_reason(body):
    try:
        parsed = parse_push_form(body)
    except ReportFormatError as error:
        assert str(error)
    else:
        assert all(r.sid and r.status.strip() for r in parsed.reports)
        assert all(reason for _, reason in parsed.refused)


report_dicts = st.fixed_dictionaries(
    {
        "sid": st.one_of(st.text(min_size=1, max_size=40), st.integers(), st.none()),
        "mobile": st.one_of(st.text(max_size=16), st.none()),
        "report_status": st.sampled_from(["SUCCESS", "FAIL", "x", None]),
        "duration": st.one_of(st.integers(-5, 100), st.text(max_size=3), st.none()),
        "user_receive_time": st.one_of(
            st.just("2020-07-01 14:33:23"), st.text(max_size=20), st.none()
        ),
        "error_msg": st.one_of(st.none(), st.text(max_size=20), st.integers()),
        "uid": st.one_of(st.none(), st.text(max_size=10), st.floats()),
    }
)


@given(st.lists(report_dicts, max_size=5))
def test_any_decoded_report_list_parses_or_is_refused(items):
    try:
        parse_reports(items)
    except ReportFormatError as error:
        assert str(error).startswith("report #")


@given(st.lists(report_dicts, max_size=5))
def test_each_report_is_either_kept_or_refused_by_index(items):
    parsed = split_reports(items)
    assert len(parsed.reports) + len(parsed.refused) == len(items)
    assert [i for i, _ in parsed.refused] == sorted({i for i, _ in parsed.refused})


# ------------------------------------------------------------- the fast way for the usual shape


def test_the_usual_shape_takes_the_fast_way_to_the_same_reports():
    assert parse_usual_reports(REFERENCE_EXAMPLE) == parse_reports(json.loads(REFERENCE_EXAMPLE))
    assert parse_usual_reports(REFERENCE_EXAMPLE.encode()) is not None


def _slow_way(text: str):
    """The long way's reports, when it keeps every one; "refused" otherwise."""
    try:
        parsed = split_reports(loads_reports(text))
    except ReportFormatError:
        return "refused"
    return "refused" if parsed.refused else parsed.reports


awkward_text = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", " ", " 15205201314 ", "a\x00b", "x" * 64, "x" * 65, "y" * 33]),
    st.sampled_from(["\ud800", "a\udfff", "\U0001f600", "DELIVERED", "x" * 16, "x" * 17]),
)
awkward_reports = st.dictionaries(
    st.sampled_from(
        ["sid", "mobile", "report_status", "duration", "user_receive_time", "error_msg", "uid", "x"]
    ),
    st.one_of(
        awkward_text,
        st.sampled_from(["SUCCESS", "FAIL", "2020-07-01 14:33:23", "2020-07-01T14:33:23"]),
        st.sampled_from(["1990-06-01 12:00:00", "0001-01-01 00:00:00", "9999-12-31 23:59:59"]),
        st.integers(-(2**70), 2**70),
        st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**25]),
        st.sampled_from([0, 1, 604800, 604801, -1, True, False, 1.0, 2.5, None, [], {}]),
    ),
)


@given(st.lists(st.one_of(awkward_reports, report_dicts), max_size=4), st.booleans())
def test_the_fast_way_agrees_with_the_long_way_or_steps_aside(items, ascii_only):
    text = json.dumps(items, ensure_ascii=ascii_only)
    usual = parse_usual_reports(text)
    assert usual is None or usual == _slow_way(text)


@pytest.mark.parametrize(
    "text",
    [
        '[{"sid":"a","sid":"b","mobile":"1","report_status":"FAIL"}]',  # the last one counts
        '[{"sid":"a","mobile":"1","report_status":"FAIL","duration":20.0}]',
        '[{"sid":"a","mobile":"1","report_status":"FAIL","uid":"\\ud800"}]',
        '{"code": 0}',
        "[] trailing",
        '[{"sid":"a","mobile":"1","report_status":"FAIL"}',
    ],
)
def test_the_fast_way_agrees_on_edge_cases_of_json(text):
    usual = parse_usual_reports(text)
    assert usual is None or usual == _slow_way(text)


# ------------------------------------------------------------- one bad report stops nothing

GOOD = json.loads(REFERENCE_EXAMPLE)[0]
POISONED = [
    ('{"sid": "\\ud800"}', "lone surrogate"),
    ('{"mobile": "1520520\\udfff"}', "lone surrogate"),
    ('{"error_msg": "\\ud800"}', "lone surrogate"),
    ('{"uid": "\\udbff"}', "lone surrogate"),
    ('{"report_status": "SU\\ud800"}', "lone surrogate"),
    ('{"error_msg": "a\\u0000b"}', "NUL"),
    ('{"sid": "a\\u0000"}', "NUL"),
    ('{"sid": "' + "s" * 65 + '"}', "at most 64"),
    ('{"mobile": "' + "1" * 33 + '"}', "at most 32"),
    ('{"uid": "' + "u" * 65 + '"}', "at most 64"),
    ('{"error_msg": "' + "e" * 4097 + '"}', "at most 4096"),
    ('{"duration": 2147483648}', "over"),
    ('{"duration": 9223372036854775808}', "over"),
    ('{"duration": ' + "9" * 5000 + "}", "whole number"),
    ('{"sid": ' + "9" * 5000 + "}", "sid"),
    ('{"duration": 1e400}', "whole number"),
    ('{"duration": -1}', "negative"),
    ('{"user_receive_time": "0001-01-01 00:00:00"}', "YYYY-MM-DD"),
    ('{"user_receive_time": "9999-12-31 23:59:59"}', "YYYY-MM-DD"),
    ('{"user_receive_time": "2020-02-30 10:00:00"}', "YYYY-MM-DD"),
    ('{"user_receive_time": 20200101}', "not a string"),
    ('{"report_status": 1}', "report_status"),
    ('{"mobile": ["1"]}', "mobile"),
]


@pytest.mark.parametrize(("poison", "reason"), POISONED)
def test_a_report_the_store_cannot_hold_is_refused_alone_with_its_index(poison, reason):
    bad = json.dumps(GOOD)[:-1] + ", " + poison[1:]  # the poisoned key comes last and wins
    text = f"[{json.dumps(GOOD | {'sid': 'before'})}, {bad}, {json.dumps(GOOD | {'sid': 'after'})}]"
    for parsed in (
        parse_push_form(urlencode({"voice_status": text}).encode()),
        interpret_pull_page(200, text.encode()),
    ):
        assert [r.sid for r in parsed.reports] == ["before", "after"]
        [(index, why)] = parsed.refused
        assert index == 1 and reason in why
        assert parsed.reasons().startswith("1 of 3 reports refused: report #1: ")
        parsed.reasons().encode("utf-8")  # the reason itself is storable text


def test_unknown_report_status_is_kept_as_it_came_with_the_others():
    items = [GOOD | {"sid": str(i)} for i in range(500)]
    items[250] |= {"report_status": "UNREACHABLE", "new_field": {"nested": [1]}}
    parsed = parse_push_form(urlencode({"voice_status": json.dumps(items)}).encode())
    assert len(parsed.reports) == 500 and parsed.refused == []
    assert parsed.reports[250].status == "UNREACHABLE" and not parsed.reports[250].answered


def test_quarantine_reasons_are_capped():
    items = [GOOD | {"duration": -1}] * 100 + [GOOD]
    reasons = split_reports(items).reasons()
    assert reasons.startswith("100 of 101 reports refused") and reasons.endswith("and 80 more")


def test_double_encoded_voice_status_is_decoded_once_more():
    # The push document: "部分语言由于解码方式差异需要解码两次" (../shared/yunpian-voice-api.md, Push).
    once = urlencode({"voice_status": REFERENCE_EXAMPLE})
    twice = "voice_status=" + quote(once.partition("=")[2], safe="")
    parsed = parse_push_form(twice.encode())
    assert [r.mobile for r in parsed.reports] == ["15205201314", "+37258483726"]


def test_a_json_value_holding_percent_signs_is_not_decoded_twice():
    text = json.dumps([GOOD | {"error_msg": "50%25 busy %41"}])
    [report] = parse_push_form(urlencode({"voice_status": text}).encode()).reports
    assert report.error_msg == "50%25 busy %41"


def test_a_value_still_not_an_array_after_the_second_decode_is_refused():
    with pytest.raises(ReportFormatError, match="not JSON"):
        parse_push_form(b"voice_status=%2541%2542")


def test_too_many_reports_are_refused_before_any_is_parsed():
    text = "[" + ",".join(["1"] * 1001) + "]"
    with pytest.raises(ReportFormatError, match="1001 reports in one push; at most 1000"):
        parse_push_form(urlencode({"voice_status": text}).encode(), max_reports=1000)
    text = "[" + ",".join(["1"] * 999) + "]"
    parsed = parse_push_form(urlencode({"voice_status": text}).encode(), 1000)
    assert len(parsed.refused) == 999


def test_a_pull_page_with_bad_reports_keeps_the_good_ones():
    text = json.dumps([GOOD, GOOD | {"duration": "x"}])
    page = interpret_pull_page(200, text.encode())
    assert len(page.reports) == 1 and page.refused[0][0] == 1
    with pytest.raises(MalformedAnswer, match="report #1"):
        interpret_pull_answer(200, text.encode())


def test_too_many_reports_are_refused_even_where_the_fast_count_steps_aside():
    text = "[" + ",".join(["NaN"] * 1001) + "]"  # JSON to Python, not to msgspec
    with pytest.raises(ReportFormatError, match="1001 reports"):
        parse_push_form(urlencode({"voice_status": text}).encode(), max_reports=1000)
