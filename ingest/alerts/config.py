"""The alert loop's configuration: read once from the environment, then passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ingest.alerts.channels import split_urls
from ingest.settings import REGION_URLS, Secret, Settings, SettingsError

DEFAULT_DASHBOARD_URL = "http://127.0.0.1:8501"
# Yunpian serves user/get.json on the SMS host, also for voice accounts (reference).
SMS_URLS = {REGION_URLS["cn"]: "https://sms.yunpian.com", REGION_URLS["us"]: REGION_URLS["us"]}


@dataclass(frozen=True)
class AlertSettings:
    """VOICEWATCH_ALERT_URLS (channels), VOICEWATCH_ALERTS (rules file),
    VOICEWATCH_DASHBOARD_URL (links in messages), VOICEWATCH_ALERT_INTERVAL (seconds)."""

    urls: list[Secret] = field(default_factory=list)
    rules_path: str | None = None
    dashboard_url: str = DEFAULT_DASHBOARD_URL
    interval: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlertSettings:
        raw_interval = env.get("VOICEWATCH_ALERT_INTERVAL") or "30"
        try:
            interval = float(raw_interval)
        except ValueError:
            raise SettingsError(
                f"VOICEWATCH_ALERT_INTERVAL={raw_interval!r} is not a number"
            ) from None
        if interval <= 0:
            raise SettingsError(f"VOICEWATCH_ALERT_INTERVAL must be above 0, got {interval:g}")
        return cls(
            urls=[Secret(url) for url in split_urls(env.get("VOICEWATCH_ALERT_URLS", ""))],
            rules_path=env.get("VOICEWATCH_ALERTS") or None,
            dashboard_url=env.get("VOICEWATCH_DASHBOARD_URL") or DEFAULT_DASHBOARD_URL,
            interval=interval,
        )


def sms_url(settings: Settings) -> str:
    """Where user/get.json lives for the configured voice endpoint: Yunpian's SMS host for
    its regions, the same base URL for the simulator or a custom endpoint."""
    return SMS_URLS.get(settings.voice_url, settings.voice_url)
