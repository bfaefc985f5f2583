"""The C-speed form decoder gives exactly what urllib's strict parse_qs gives."""

from __future__ import annotations

from urllib.parse import parse_qs, quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.yunpian.forms import FormError, parse_form, percent_decode

# Bytes a form body is made of, weighted towards the ones with a meaning.
form_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"%", b"+", b"&", b"=", b"\\", b"x", b"%4", b"%e4", b"%zz", b"%2B"]),
        st.binary(max_size=3),
        st.text(max_size=3).map(lambda t: quote(t).encode()),
    ),
    max_size=30,
).map(b"".join)


def urllib_form(body: bytes) -> dict[str, list[str]] | type[ValueError]:
    try:
        return parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=8
        )
    except ValueError:
        return ValueError


@given(form_bytes.filter(lambda b: _is_utf8(b)))
def test_parse_form_equals_urllib(body):
    try:
        ours = parse_form(body, max_fields=8)
    except FormError:
        ours = ValueError
    assert ours == urllib_form(body)


@given(st.binary(max_size=40))
def test_percent_decode_equals_urllib(raw):
    from urllib.parse import unquote_to_bytes

    assert percent_decode(raw) == unquote_to_bytes(raw.replace(b"+", b" "))


def test_json_field_round_trip():
    text = '[{"sid":"9b1a","error_msg":"用户关机 100% \\\\ +1","mobile":"+8615205201314"}]'
    assert parse_form(b"voice_status=" + quote(text).encode()) == {"voice_status": [text]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"voice_status", "no '='"), (b"a=1&&b=2", "no '='"), (b"&".join([b"a="] * 9), "9 fields")],
)
def test_malformed_forms_are_refused_with_a_reason(body, reason):
    with pytest.raises(FormError, match=reason):
        parse_form(body, max_fields=8)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
