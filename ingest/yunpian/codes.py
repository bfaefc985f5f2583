"""Yunpian v2 return codes: meaning, category and whether a later retry may succeed.

Source: ../shared/yunpian-voice-api.md ("Return codes"). The HTTP status that goes with each
code is *believed* (400 bad request/throttle, 401/403 auth, 500 server trouble), not confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """What kind of trouble a return code means, for dashboards and retry decisions."""

    OK = "ok"
    THROTTLE = "throttle"
    INPUT = "input"
    AUTH = "auth"
    BALANCE = "balance"
    SERVER = "server"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ReturnCode:
    code: int
    msg: str  # Yunpian's own (Chinese) message text
    meaning: str  # English explanation for the dashboard
    category: Category
    http_status: int  # believed, see module docstring
    retry_later: bool = False


def _c(code: int, msg: str, meaning: str, category: Category, http_status: int, retry=False):
    return ReturnCode(code, msg, meaning, category, http_status, retry)


_I, _T, _A, _B, _S, _O = (
    Category.INPUT,
    Category.THROTTLE,
    Category.AUTH,
    Category.BALANCE,
    Category.SERVER,
    Category.OTHER,
)

CODES: dict[int, ReturnCode] = {
    c.code: c
    for c in [
        _c(0, "OK", "OK", Category.OK, 200),
        _c(1, "请求参数缺失", "required parameter missing", _I, 400),
        _c(2, "请求参数格式错误", "parameter format wrong", _I, 400),
        _c(3, "账户余额不足", "balance too low", _B, 400),
        _c(4, "关键词屏蔽", "keyword blocked", _I, 400),
        _c(5, "未找到对应id的模板", "template not found", _I, 400),
        _c(6, "添加模板失败", "adding template failed", _I, 400),
        _c(7, "模板不可用", "template unusable", _I, 400),
        _c(
            8,
            "同一手机号30秒内重复提交相同的内容",
            "same content to the number within 30 s",
            _T,
            400,
        ),
        _c(
            9,
            "同一手机号5分钟内重复提交相同的内容超过3次",
            "same content to the number more than 3 times in 5 min",
            _T,
            400,
        ),
        _c(10, "手机号黑名单过滤", "number on the blacklist", _I, 400),
        _c(11, "接口不支持GET方式调用", "GET not supported", _I, 400),
        _c(12, "接口不支持POST方式调用", "POST not supported", _I, 400),
        _c(13, "营销短信暂停发送", "marketing messages suspended", _O, 400),
        _c(14, "解码失败", "decoding failed", _I, 400),
        _c(15, "签名不匹配", "signature mismatch", _I, 400),
        _c(16, "签名格式不正确", "bad signature format", _I, 400),
        _c(
            17,
            "24小时内同一手机号发送次数超过限制",
            "too many sends to the number in 24 h",
            _T,
            400,
        ),
        _c(18, "签名校验失败", "signature check failed", _A, 400),
        _c(19, "请求已失效", "request expired", _I, 400),
        _c(20, "不支持的国家地区", "country/region not supported", _I, 400),
        _c(21, "解密失败", "decryption failed", _I, 400),
        _c(22, "1小时内同一手机号发送次数超过限制", "too many sends to the number in 1 h", _T, 400),
        _c(23, "发往模板支持的国家列表之外的地区", "outside the template's countries", _I, 400),
        _c(24, "添加告警设置失败", "alarm setting failed", _O, 400),
        _c(25, "手机号和内容个数不匹配", "numbers/contents count mismatch", _I, 400),
        _c(26, "流量包错误", "flow package error", _O, 400),
        _c(27, "未开通金额计费", "amount billing not enabled", _O, 400),
        _c(28, "运营商错误", "carrier error", _O, 400),
        _c(-1, "非法的apikey", "illegal apikey", _A, 401),
        _c(-2, "API没有权限", "API not permitted", _A, 403),
        _c(-3, "IP没有权限", "IP not whitelisted", _A, 403),
        _c(-4, "访问次数超限", "call count exceeded", _T, 403),
        _c(-5, "访问频率超限", "call rate exceeded", _T, 403, retry=True),
        _c(-50, "未知异常", "unknown error", _S, 500, retry=True),
        _c(-51, "系统繁忙", "system busy", _S, 500, retry=True),
        _c(-52, "充值失败", "top-up failed", _S, 500),
        _c(-53, "提交短信失败", "submit failed", _S, 500, retry=True),
        _c(-54, "记录已存在", "record exists", _O, 400),
        _c(-55, "记录不存在", "record not found", _O, 400),
    ]
}

# Per-number harassment limits (8, 9, 17, 22); -4/-5 are account-wide rate limits.
NUMBER_THROTTLE_CODES = frozenset({8, 9, 17, 22})


def lookup(code: int) -> ReturnCode:
    """The known return code, or a generic 'other' entry for one we have never seen."""
    return CODES.get(code) or ReturnCode(code, "", f"unknown code {code}", Category.OTHER, 400)
