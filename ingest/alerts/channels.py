"""Where alerts go: the Apprise URLs in VOICEWATCH_ALERT_URLS (DingTalk with its signing
secret, Feishu/Lark, WeCom bots, Slack, e-mail, a generic JSON webhook, ...).

The URLs carry secrets (tokens, signing keys, passwords): they are shown and logged only
masked (`mask_url`), and Apprise's own logger is kept at WARNING so its debug lines, which
quote URLs, never reach the logs."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import apprise
from apprise.plugins.dingtalk import NotifyDingTalk

from ingest.alerts.messages import Message
from ingest.settings import Secret, redact

log = logging.getLogger(__name__)
logging.getLogger("apprise").setLevel(logging.WARNING)

# Schemes whose host is the operator's own server: its name and port are not secret.
_OWN_HOST_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
_NOTIFY_TYPES = {
    "critical": apprise.NotifyType.FAILURE,
    "warning": apprise.NotifyType.WARNING,
    "info": apprise.NotifyType.INFO,
    "resolved": apprise.NotifyType.SUCCESS,
}


class ChannelError(ValueError):
    """A channel URL Apprise does not understand (shown masked)."""


def split_urls(text: str) -> list[str]:
    """The URLs in VOICEWATCH_ALERT_URLS: separated by spaces, newlines or commas."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def mask_url(url: str) -> str:
    """`dingtalk://***`, or `json://hooks.example.com:8080/***` for a webhook on one's own
    host: the kind and where, never a token, key or password."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "?"
    if scheme in _OWN_HOST_SCHEMES and parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"{scheme}://{parts.hostname}{port}/***"
    return f"{scheme}://***"


class SignedOnceDingTalk(NotifyDingTalk):
    """Apprise's DingTalk, with the signature URL-encoded once, as DingTalk checks it.

    Apprise 2.3.0 quotes the base64 signature and then hands it to requests as a query
    parameter, which quotes it again (`+` arrives as `%2B`): DingTalk then answers 310000
    "sign not match". tests/ingest/alerts/test_channels.py checks the signature received."""

    def get_signature(self) -> tuple[str, str]:
        timestamp, signature = super().get_signature()
        return timestamp, unquote(signature)


def _plugin(url: str) -> str | NotifyDingTalk | None:
    if urlsplit(url).scheme.lower() != "dingtalk":
        return url
    parsed = SignedOnceDingTalk.parse_url(url)
    try:
        return SignedOnceDingTalk(**parsed) if parsed else None
    except TypeError:  # Apprise refuses a token or secret of the wrong form
        return None


@dataclass(frozen=True)
class Delivery:
    channel: str  # masked URL
    ok: bool


class Channels:
    """The configured channels; `send` tries each and says which took the message."""

    def __init__(self, urls: list[Secret]) -> None:
        self._urls = urls
        self._targets: list[tuple[str, apprise.Apprise]] = []
        for url in urls:
            target = apprise.Apprise()
            plugin = _plugin(url.reveal())
            if plugin is None or not target.add(plugin):
                raise ChannelError(
                    f"VOICEWATCH_ALERT_URLS: {mask_url(url.reveal())} is not a URL Apprise "
                    "understands (see https://github.com/caronc/apprise/wiki)"
                )
            self._targets.append((mask_url(url.reveal()), target))

    @property
    def masked(self) -> list[str]:
        return [name for name, _ in self._targets]

    def __bool__(self) -> bool:
        return bool(self._targets)

    def send(self, message: Message) -> list[Delivery]:
        """Send `message` to every channel; one failing channel does not stop the others."""
        deliveries = []
        for name, target in self._targets:
            try:
                ok = bool(
                    target.notify(
                        body=message.body,
                        title=message.title,
                        notify_type=_NOTIFY_TYPES.get(message.severity, apprise.NotifyType.INFO),
                    )
                )
            except Exception as error:  # a plugin bug must not stop the alert loop
                log.warning(
                    "alert channel raised",
                    extra={"channel": name, "error": redact(repr(error), *self._urls)},
                )
                ok = False
            if not ok:
                log.warning("alert channel did not take the message", extra={"channel": name})
            deliveries.append(Delivery(name, ok))
        return deliveries
