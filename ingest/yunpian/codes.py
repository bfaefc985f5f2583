"""Yunpian v2 return codes: meaning in Chinese and English, advice for support, category and
whether a later retry may succeed.

Source: ../shared/yunpian-voice-api.md ("Return codes"). The HTTP status that goes with each
code is *believed* (400 bad request/throttle, 401/403 auth, 500 server trouble), not confirmed.
The Chinese meaning is Yunpian's own `msg` where it reads clearly on its own, ours where it
does not (e.g. "OK", "非法的apikey"); the advice is ours in both languages.
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
    meaning_zh: str = ""  # Chinese explanation: Yunpian's msg where it is clear
    advice_en: str = ""  # what support or the integrator should do
    advice_zh: str = ""

    @property
    def meaning_en(self) -> str:
        return self.meaning

    def meaning_in(self, language: str) -> str:
        """The meaning in `language` ("zh_CN" or "en", as ingest.i18n names them)."""
        return (self.meaning_zh or self.msg) if language.startswith("zh") else self.meaning

    def advice_in(self, language: str) -> str:
        """What to do about this code, in `language` ("zh_CN" or "en")."""
        return self.advice_zh if language.startswith("zh") else self.advice_en


Advice = tuple[str, str]  # (English, Chinese)
_FIX_REQUEST: Advice = (
    "Fix the request the integration sends; retrying unchanged fails again.",
    "请修正接入方提交的请求参数；原样重试仍会失败。",
)
_CONSOLE: Advice = (
    "Check the setting in the Yunpian console or ask Yunpian support.",
    "请在云片控制台检查相关设置，或联系云片客服。",
)
_TEMPLATE: Advice = (
    "Check the template id and its approval in the Yunpian console.",
    "请在云片控制台核对模板 ID 及其审核状态。",
)
_NUMBER_LIMIT: Advice = (
    "A per-number harassment limit: tell the user to wait, do not resend now.",
    "触发单号码防骚扰限制：请用户稍候，勿立即重发。",
)
_SIGNATURE: Advice = (
    "Check how the request is signed (key, timestamp, encoding).",
    "请检查请求签名方式（密钥、时间戳、编码）。",
)
_RETRY: Advice = (
    "Yunpian-side trouble: retry later; if it persists, ask Yunpian support.",
    "云片侧异常：请稍后重试；持续出现请联系云片客服。",
)


def _c(
    code: int,
    msg: str,
    meaning: str,
    category: Category,
    http_status: int,
    advice: Advice,
    *,
    zh: str = "",
    retry: bool = False,
) -> ReturnCode:
    return ReturnCode(code, msg, meaning, category, http_status, retry, zh or msg, *advice)


_I, _T, _A, _B, _S, _O = (
    Category.INPUT,
    Category.THROTTLE,
    Category.AUTH,
    Category.BALANCE,
    Category.SERVER,
    Category.OTHER,
)
_OK: Advice = ("Nothing to do.", "无需处理。")
_BALANCE: Advice = (
    "Top up the Yunpian account; sends fail until then.",
    "请为云片账户充值；充值前发送都会失败。",
)
_KEYWORD: Advice = (
    "Remove the blocked word from the content or template.",
    "请删除内容或模板中的屏蔽词。",
)
_BLACKLIST: Advice = (
    "The number is blacklisted at Yunpian or the carrier; offer another channel.",
    "该号码在云片或运营商黑名单中，请改用其他验证方式。",
)
_METHOD: Advice = ("Call the API with POST.", "请使用 POST 方式调用接口。")
_COUNTRY: Advice = (
    "Voice codes cannot reach this country/region; offer an SMS code.",
    "语音验证码无法送达该国家/地区，请改用短信验证码。",
)
_APIKEY: Advice = (
    "Check VOICEWATCH_APIKEY against the key in the Yunpian console.",
    "请核对 VOICEWATCH_APIKEY 与云片控制台中的 apikey 是否一致。",
)
_PERMISSION: Advice = (
    "Enable voice verification for the account in the Yunpian console.",
    "请在云片控制台为账户开通语音验证码接口权限。",
)
_WHITELIST: Advice = (
    "Add the sending server's IP to the whitelist in the Yunpian console.",
    "请在云片控制台将发送服务器的 IP 加入白名单。",
)
_ACCOUNT_RATE: Advice = (
    "The account's call limit: slow down sending, or ask Yunpian to raise it.",
    "账户调用频率受限：请降低发送速率，或联系云片提高限额。",
)

CODES: dict[int, ReturnCode] = {
    c.code: c
    for c in [
        _c(0, "OK", "OK", Category.OK, 200, _OK, zh="成功"),
        _c(1, "请求参数缺失", "required parameter missing", _I, 400, _FIX_REQUEST),
        _c(2, "请求参数格式错误", "parameter format wrong", _I, 400, _FIX_REQUEST),
        _c(3, "账户余额不足", "balance too low", _B, 400, _BALANCE),
        _c(4, "关键词屏蔽", "keyword blocked", _I, 400, _KEYWORD),
        _c(5, "未找到对应id的模板", "template not found", _I, 400, _TEMPLATE, zh="模板不存在"),
        _c(6, "添加模板失败", "adding template failed", _I, 400, _TEMPLATE),
        _c(7, "模板不可用", "template unusable", _I, 400, _TEMPLATE),
        _c(
            8,
            "同一手机号30秒内重复提交相同的内容",
            "same content to the number within 30 s",
            _T,
            400,
            _NUMBER_LIMIT,
        ),
        _c(
            9,
            "同一手机号5分钟内重复提交相同的内容超过3次",
            "same content to the number more than 3 times in 5 min",
            _T,
            400,
            _NUMBER_LIMIT,
        ),
        _c(10, "手机号黑名单过滤", "number on the blacklist", _I, 400, _BLACKLIST),
        _c(11, "接口不支持GET方式调用", "GET not supported", _I, 400, _METHOD),
        _c(
            12,
            "接口不支持POST方式调用",
            "POST not supported",
            _I,
            400,
            (
                "Check the API path and method against Yunpian's docs.",
                "请对照云片文档核对接口地址和调用方式。",
            ),
        ),
        _c(
            13,
            "营销短信暂停发送",
            "marketing messages suspended",
            _O,
            400,
            (
                "Marketing sends are paused by Yunpian; ask Yunpian support.",
                "营销类发送已被云片暂停，请联系云片客服。",
            ),
        ),
        _c(14, "解码失败", "decoding failed", _I, 400, _FIX_REQUEST, zh="请求解码失败"),
        _c(15, "签名不匹配", "signature mismatch", _I, 400, _SIGNATURE),
        _c(16, "签名格式不正确", "bad signature format", _I, 400, _SIGNATURE),
        _c(
            17,
            "24小时内同一手机号发送次数超过限制",
            "too many sends to the number in 24 h",
            _T,
            400,
            _NUMBER_LIMIT,
        ),
        _c(18, "签名校验失败", "signature check failed", _A, 400, _SIGNATURE),
        _c(
            19,
            "请求已失效",
            "request expired",
            _I,
            400,
            (
                "Check the sending server's clock, then send again.",
                "请校准发送服务器的时钟后重新发送。",
            ),
            zh="请求已过期",
        ),
        _c(20, "不支持的国家地区", "country/region not supported", _I, 400, _COUNTRY),
        _c(21, "解密失败", "decryption failed", _I, 400, _SIGNATURE, zh="请求解密失败"),
        _c(
            22,
            "1小时内同一手机号发送次数超过限制",
            "too many sends to the number in 1 h",
            _T,
            400,
            _NUMBER_LIMIT,
        ),
        _c(
            23,
            "发往模板支持的国家列表之外的地区",
            "outside the template's countries",
            _I,
            400,
            _COUNTRY,
            zh="目标地区不在模板支持的国家列表内",
        ),
        _c(24, "添加告警设置失败", "alarm setting failed", _O, 400, _CONSOLE),
        _c(25, "手机号和内容个数不匹配", "numbers/contents count mismatch", _I, 400, _FIX_REQUEST),
        _c(26, "流量包错误", "flow package error", _O, 400, _CONSOLE),
        _c(27, "未开通金额计费", "amount billing not enabled", _O, 400, _CONSOLE),
        _c(
            28,
            "运营商错误",
            "carrier error",
            _O,
            400,
            (
                "The carrier refused; retry later or offer an SMS code.",
                "运营商拒绝：请稍后重试，或改用短信验证码。",
            ),
        ),
        _c(-1, "非法的apikey", "illegal apikey", _A, 401, _APIKEY, zh="apikey 无效"),
        _c(-2, "API没有权限", "API not permitted", _A, 403, _PERMISSION, zh="无权调用该接口"),
        _c(-3, "IP没有权限", "IP not whitelisted", _A, 403, _WHITELIST, zh="IP 不在白名单中"),
        _c(-4, "访问次数超限", "call count exceeded", _T, 403, _ACCOUNT_RATE),
        _c(-5, "访问频率超限", "call rate exceeded", _T, 403, _ACCOUNT_RATE, retry=True),
        _c(-50, "未知异常", "unknown error", _S, 500, _RETRY, zh="云片未知异常", retry=True),
        _c(-51, "系统繁忙", "system busy", _S, 500, _RETRY, zh="云片系统繁忙", retry=True),
        _c(-52, "充值失败", "top-up failed", _S, 500, _CONSOLE),
        _c(-53, "提交短信失败", "submit failed", _S, 500, _RETRY, zh="提交失败", retry=True),
        _c(-54, "记录已存在", "record exists", _O, 400, _CONSOLE),
        _c(-55, "记录不存在", "record not found", _O, 400, _CONSOLE),
    ]
}

# Per-number harassment limits (8, 9, 17, 22); -4/-5 are account-wide rate limits.
NUMBER_THROTTLE_CODES = frozenset({8, 9, 17, 22})


def lookup(code: int) -> ReturnCode:
    """The known return code, or a generic 'other' entry for one we have never seen."""
    return CODES.get(code) or ReturnCode(
        code,
        "",
        f"unknown code {code}",
        Category.OTHER,
        400,
        meaning_zh=f"未知返回码 {code}",
        advice_en="A code voicewatch does not know: look it up in Yunpian's docs.",
        advice_zh="voicewatch 未收录此返回码，请查阅云片文档。",
    )
