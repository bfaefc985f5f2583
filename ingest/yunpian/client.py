"""Client for Yunpian's voice API (v2) and its errors; reports are parsed in ingest.yunpian.reports.

Wire reference: ../shared/yunpian-voice-api.md. Works unchanged against the real service
(`cn`/`us` regions) and against voicewatch's simulator (any base URL).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from ingest.numbers import mask, mask_in_text
from ingest.settings import REGION_URLS, Secret, redact
from ingest.text import decoded
from ingest.yunpian.codes import Category, lookup
from ingest.yunpian.reports import (
    ParsedReports,
    Report,
    ReportFormatError,
    loads_reports,
    parse_usual_reports,
    split_reports,
)

log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
HEADERS = {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json;charset=utf-8"}
# A request field an upstream may echo, as a form (`code=1234`) or JSON (`"code": "1234"`):
# its value is hidden whatever it is. `result_code=0` and `"code": 0` (numbers) are kept.
_ECHOED_SECRET = re.compile(
    r"(\b(?:apikey|code|tpl_value|token|password)=)[^&\s]+"
    r"|(\"(?:apikey|code|tpl_value|token|password)\"\s*:\s*\")[^\"]*",
    re.IGNORECASE,
)


class YunpianError(Exception):
    """Yunpian answered with an error, or with something that is not a valid answer.

    `code` is Yunpian's return code (None when there was no Yunpian answer at all),
    `http_status` the HTTP status (None when the server was not reached).
    """

    def __init__(
        self,
        code: int | None,
        msg: str,
        detail: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.detail = detail
        self.http_status = http_status
        super().__init__(str(self))

    @property
    def category(self) -> Category:
        return lookup(self.code).category if self.code is not None else Category.SERVER

    @property
    def throttled(self) -> bool:
        return self.category is Category.THROTTLE

    @property
    def retry_later(self) -> bool:
        """Whether the same request may succeed later (never decided for a send by us)."""
        return self.code is None or lookup(self.code).retry_later

    def __str__(self) -> str:
        where = f"HTTP {self.http_status}" if self.http_status else "no answer"
        text = f"Yunpian error {self.code} ({where}): {self.msg}"
        return f"{text} — {self.detail}" if self.detail else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, msg={self.msg!r}, http_status={self.http_status!r})"


def scrub_request(error: YunpianError, mobile: str | None, code: str | None) -> YunpianError:
    """`error` with the request's secrets hidden and numbers masked in its texts, in place.

    An upstream or a proxy may quote the request in its error, in any encoding; the error then
    goes to logs, pages and the database, where codes, keys and full numbers must not. The
    texts are decoded (percent, JSON, HTML; repeatedly) before anything is looked for, then:
    the request's code and number, any `apikey=`/`code=`/`tpl_value=`/`token=` value and any
    phone number are hidden.
    """

    def scrub(text: str | None) -> str | None:
        if text is None:
            return None
        text = decoded(text)
        if code and len(code) >= 4:
            text = text.replace(code, "***")
        if mobile:
            text = text.replace(mobile, mask(mobile))
        return mask_in_text(_ECHOED_SECRET.sub(lambda m: (m[1] or m[2]) + "***", text))

    error.msg, error.detail = scrub(error.msg) or "", scrub(error.detail)
    error.args = (str(error),)
    return error


class MalformedAnswer(YunpianError):
    """The answer was not the JSON the endpoint promises (truncated, HTML, wrong shape)."""

    def __init__(self, reason: str, http_status: int | None, body: bytes) -> None:
        preview = body[:200].decode("utf-8", "replace")
        super().__init__(
            None, f"malformed answer: {reason}", f"body starts {preview!r}", http_status
        )


class Unreachable(YunpianError):
    """The request did not get an answer (connect error, timeout, connection closed).

    `may_have_left`: False only when the request provably never left (the connection was
    refused or never made); otherwise Yunpian may have acted on it (a send may ring)."""

    def __init__(self, url: str, cause: Exception, *, may_have_left: bool = True) -> None:
        super().__init__(None, f"{url} unreachable: {type(cause).__name__}", str(cause) or None)
        self.may_have_left = may_have_left


def never_left(error: Exception) -> bool:
    """Whether a transport error proves the request never reached the server: the connection
    was refused, timed out or never taken from the pool. Anything later (a read timeout, a
    connection closed mid-answer, a write error) may have come after the server acted on it."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class SendResult:
    """Yunpian's answer to an accepted send.json / tpl_notify.json."""

    count: int
    fee: float
    sid: str
    http_status: int = 200


# ---------------------------------------------------------------- answers and reports


def interpret_send_answer(http_status: int, body: bytes) -> SendResult:
    """A send/tpl_notify answer as a SendResult, or the YunpianError it carries."""
    answer = _decode_json(http_status, body)
    if not isinstance(answer, dict):
        raise MalformedAnswer("expected a JSON object", http_status, body)
    _raise_if_error(answer, http_status)
    try:
        return SendResult(
            count=int(answer["count"]),
            fee=float(answer["fee"]),
            sid=str(answer["sid"]),
            http_status=http_status,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedAnswer(
            f"send answer lacks count/fee/sid ({exc})", http_status, body
        ) from None


def interpret_pull_answer(http_status: int, body: bytes) -> list[Report]:
    """A pull_status answer as reports, or the YunpianError it carries; MalformedAnswer if
    any report in it is bad (interpret_pull_page keeps the good ones)."""
    page = interpret_pull_page(http_status, body)
    if page.refused:
        index, reason = page.refused[0]
        raise MalformedAnswer(f"report #{index}: {reason}", http_status, body)
    return page.reports


def interpret_pull_page(http_status: int, body: bytes) -> ParsedReports:
    """A pull_status answer as the reports the store can hold and the reasons for the
    others; the YunpianError it carries, or MalformedAnswer if it is no array at all."""
    usual = parse_usual_reports(body)
    if usual is not None:
        return ParsedReports(usual)
    try:
        answer = loads_reports(body)
    except ReportFormatError as exc:
        raise MalformedAnswer(str(exc), http_status, body) from None
    if isinstance(answer, dict):
        _raise_if_error(answer, http_status)
    try:
        return split_reports(answer)
    except ReportFormatError as exc:
        raise MalformedAnswer(str(exc), http_status, body) from None


def _decode_json(http_status: int, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError, JSONDecodeError
        raise MalformedAnswer(f"not JSON ({exc})", http_status, body) from None


def _raise_if_error(answer: Mapping[str, Any], http_status: int) -> None:
    # Like the official SDK, decide on `code` (absent or 0 = success), not the HTTP status.
    code = answer.get("code", 0)
    if code in (0, None) and http_status < 400:
        return
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    raise YunpianError(code, str(answer.get("msg", "")), answer.get("detail"), http_status)


# ---------------------------------------------------------------- the client


def base_url_for(region_or_url: str) -> str:
    """`cn`/`us` → Yunpian's voice host for that region; anything else is taken as a URL."""
    return REGION_URLS.get(region_or_url, region_or_url).rstrip("/")


class VoiceClient:
    """Yunpian's voice API over httpx.

    `send` retries connect errors only: a request that may have reached Yunpian is never
    repeated, since a repeated send can ring a phone twice. `pull_status` retries any
    transport error and 5xx with exponential backoff.
    """

    def __init__(
        self,
        base_url: str,
        apikey: Secret | str,
        *,
        timeout: float = 10.0,
        connect_retries: int = 2,
        pull_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url_for(base_url)
        self._apikey = apikey if isinstance(apikey, Secret) else Secret(apikey)
        self.connect_retries = connect_retries
        self.pull_retries = pull_retries
        self.backoff = backoff
        self._http = httpx.Client(timeout=timeout, headers=HEADERS, transport=transport)

    def __repr__(self) -> str:
        return f"VoiceClient(base_url={self.base_url!r}, apikey=***)"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VoiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(
        self,
        mobile: str,
        code: str,
        *,
        callback_url: str | None = None,
        display_num: str | None = None,
        uid: str | None = None,
        language: str | None = None,
    ) -> SendResult:
        """Have Yunpian call `mobile` and read `code` (4–6 digits)."""
        params = {"mobile": mobile, "code": code, "callback_url": callback_url}
        params |= {"display_num": display_num, "uid": uid, "language": language}
        try:
            status, body = self._post("send.json", params, retry_reads=False)
            return interpret_send_answer(status, body)
        except YunpianError as error:
            raise scrub_request(error, mobile, code) from None

    def tpl_notify(
        self,
        mobile: str,
        tpl_id: int,
        tpl_value: Mapping[str, str] | str,
        *,
        callback_url: str | None = None,
    ) -> SendResult:
        """Voice notification from an approved template; `tpl_value` as a mapping or encoded."""
        if not isinstance(tpl_value, str):
            tpl_value = urlencode(tpl_value)
        params = {"mobile": mobile, "tpl_id": str(tpl_id), "tpl_value": tpl_value}
        try:
            status, body = self._post(
                "tpl_notify.json", params | {"callback_url": callback_url}, retry_reads=False
            )
            return interpret_send_answer(status, body)
        except YunpianError as error:
            raise scrub_request(error, mobile, tpl_value) from None

    def pull_status_raw(self, page_size: int = 100, report_type: int = 1) -> tuple[int, bytes]:
        """One page of reports as the raw answer (HTTP status, body), for storing before parsing.

        Raises YunpianError if Yunpian answered with an error object.
        """
        if not 1 <= page_size <= 100:
            raise ValueError(f"page_size {page_size} is outside 1–100")
        params = {"page_size": str(page_size), "type": str(report_type)}
        status, body = self._post("pull_status.json", params, retry_reads=True)
        if status >= 400 or body.lstrip()[:1] == b"{":
            answer = _decode_json(status, body)
            if isinstance(answer, dict):
                _raise_if_error(answer, status)
        return status, body

    def pull_status(self, page_size: int = 100, report_type: int = 1) -> list[Report]:
        """One page of delivery reports (each report is handed out once by Yunpian)."""
        return interpret_pull_answer(*self.pull_status_raw(page_size, report_type))

    def _post(
        self, name: str, params: Mapping[str, str | None], *, retry_reads: bool
    ) -> tuple[int, bytes]:
        url = f"{self.base_url}/v2/voice/{name}"
        form = {"apikey": self._apikey.reveal()}
        form |= {k: v for k, v in params.items() if v is not None}
        attempts = 1 + (self.pull_retries if retry_reads else self.connect_retries)
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.post(url, data=form)
            except httpx.ConnectError as exc:
                error: Exception = exc
            except httpx.TransportError as exc:
                if not retry_reads:
                    scrubbed = _scrub(exc, self._apikey)
                    raise Unreachable(url, scrubbed, may_have_left=not never_left(exc)) from None
                error = exc
            else:
                if retry_reads and response.status_code >= 500 and attempt < attempts:
                    error = httpx.HTTPStatusError(
                        "server error", request=response.request, response=response
                    )
                else:
                    # An upstream (or a proxy before it) may echo the request back.
                    return response.status_code, _redact_bytes(response.content, self._apikey)
            if attempt == attempts:
                raise Unreachable(
                    url, _scrub(error, self._apikey), may_have_left=not never_left(error)
                ) from None
            delay = self.backoff * 2 ** (attempt - 1)
            log.warning(
                "event=yunpian.retry endpoint=%s attempt=%d error=%s delay_s=%.2f",
                name,
                attempt,
                type(error).__name__,
                delay,
            )
            time.sleep(delay)
        raise AssertionError("unreachable")


def _redact_bytes(body: bytes, apikey: Secret) -> bytes:
    """`body` with the apikey replaced by `***`, so no error, log or stored body carries it."""
    return body.replace(apikey.reveal().encode(), b"***") if apikey else body


def _scrub(exc: Exception, apikey: Secret) -> Exception:
    """The exception with the apikey removed from its message (it may echo the request)."""
    if not apikey or apikey.reveal() not in str(exc):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {redact(str(exc), apikey)}")
