"""Reading a request's form fields the way the simulated Yunpian does: empty fields count as
not sent, and refusals for missing or malformed ones in the reference's wording."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ingest.numbers import looks_like_mobile
from ingest.simulator.records import VOICE_CODE, Rejection


def param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value else None  # an empty field counts as not sent


def is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def missing(name: str) -> Rejection:
    return Rejection(1, f"参数 {name} 必须传入")  # detail wording believed


def bad(name: str, why: str) -> Rejection:
    # The reference quotes this shape for code: "参数 code 格式不正确，code必须为4至6位阿拉伯数字".
    return Rejection(2, f"参数 {name} 格式不正确，{why}")


def check_mobile_and_callback(params: Mapping[str, str]) -> Rejection | None:
    if not looks_like_mobile(params["mobile"]):
        return bad("mobile", "mobile手机号格式不正确")
    callback_url = param(params, "callback_url")
    if callback_url and urlsplit(callback_url).scheme not in ("http", "https"):
        return bad("callback_url", "callback_url必须为http或https地址")  # believed
    return None


def content_key(params: Mapping[str, str], kind: int) -> str:
    """What "same content" means for harassment prevention: the same code, or (believed) the
    same template with the same values."""
    if kind == VOICE_CODE:
        return f"code:{params['code']}"
    return f"tpl:{params['tpl_id']}:{params['tpl_value']}"
