"""Configuration: read once from the environment (and an optional `.env`), then passed down."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

from dotenv import dotenv_values

from ingest.text import decoded

REGION_URLS = {
    "cn": "https://voice.yunpian.com",
    "us": "https://us.yunpian.com",
}
# Where `voicewatch up` runs its simulator by default (--simulator-port): with no apikey,
# every command talks to it, never to Yunpian with the simulator's demo key.
SIMULATOR_URL = "http://127.0.0.1:8800"
DEFAULT_DB_URL = "sqlite:///data/voicewatch.db"
DEMO_APIKEY = "0123456789abcdef0123456789abcdef"  # the simulator's; never valid at Yunpian
FEE_UNITS = ("credits", "yuan")  # what Yunpian bills a call in: 条 (credits) or yuan, per account


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


def redact(text: str, *secret_values: Secret | str | None) -> str:
    """`text` with every occurrence of the given secrets replaced by `***`, also where a secret
    hides behind percent-encoding, JSON `\\u` escapes, HTML entities or `+` for a space: then
    the decoded text is returned, redacted."""
    raws = [v.reveal() if isinstance(v, Secret) else v for v in secret_values]
    raws = [raw for raw in raws if raw]
    if not raws:
        return text
    plain = decoded(text)
    if plain != text and any(_hidden_in(plain, raw) for raw in raws):
        text = plain
    for raw in raws:
        text = text.replace(raw, "***").replace(quote_plus(raw), "***")
        text = text.replace(raw.replace(" ", "+"), "***")
    return text


def _hidden_in(text: str, raw: str) -> bool:
    return raw in text or raw.replace(" ", "+") in text


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything voicewatch is configured with. See README "Configuration"."""

    apikey: Secret = field(default_factory=lambda: Secret(""))
    region: str = "cn"
    voice_url: str = REGION_URLS["cn"]
    db_url: str = DEFAULT_DB_URL
    push_token: Secret = field(default_factory=lambda: Secret(""))
    relay_token: Secret = field(default_factory=lambda: Secret(""))
    digest_key: Secret = field(default_factory=lambda: Secret(""))
    callback_url: str = ""
    pull_interval: float = 5.0
    retention_days: int = 0  # 0 keeps everything
    dashboard_password: Secret = field(default_factory=lambda: Secret(""))
    unmask_password: Secret = field(default_factory=lambda: Secret(""))
    manual_sends_per_hour: int = 20
    push_max_bytes: int = 4 * 1024 * 1024
    upstream_timeout: float = 15.0  # seconds the relay waits for Yunpian's answer
    store_wait: float = 5.0  # seconds a write waits for a busy database before a 503
    refused_per_minute: int = 60  # refused pushes kept in the raw inbox per minute, in all
    disk_min_free_mb: float = 512.0  # /healthz is degraded below this much free disk
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    # The account's per-number limits set in Yunpian's console (codes 22 and 17); None: no
    # limit, as the simulator has unless told. Read by the dashboard, the CLI and `make run`.
    limit_per_hour: int | None = None
    limit_per_day: int | None = None
    no_report_after: float = 900.0  # seconds after which an accepted call is "no report"
    fee_unit: str = "credits"  # the unit of `fee` in Yunpian's answers: credits (条) or yuan
    guard_path: str = ""  # the guard's TOML rule set (ingest/guard/defaults.toml when empty)
    guard_budget: float = 0.05  # seconds a guard decision may take before the send goes out

    @property
    def simulated(self) -> bool:
        """No real apikey: voicewatch runs against its own simulator."""
        return not self.apikey

    @property
    def apikey_or_demo(self) -> Secret:
        """The configured apikey, or the simulator's demo key when there is none."""
        return self.apikey if self.apikey else Secret(DEMO_APIKEY)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, env_file: str | None = ".env"
    ) -> Settings:
        """Settings from `env` (default: os.environ over the `.env` file, if any)."""
        if env is None:
            file_values = dotenv_values(env_file) if env_file and Path(env_file).exists() else {}
            env = {**{k: v for k, v in file_values.items() if v is not None}, **os.environ}
        region = env.get("YUNPIAN_REGION", "cn").strip().lower()
        if region not in REGION_URLS:
            raise SettingsError(f"YUNPIAN_REGION={region!r}: expected one of {sorted(REGION_URLS)}")
        db_url = env.get("VOICEWATCH_DB", DEFAULT_DB_URL)
        apikey = env.get("YUNPIAN_APIKEY", "").strip()
        upstream = REGION_URLS[region] if apikey else SIMULATOR_URL
        return cls(
            apikey=Secret(apikey),
            region=region,
            voice_url=(env.get("YUNPIAN_VOICE_URL") or upstream).rstrip("/"),
            db_url=db_url,
            push_token=Secret(env.get("VOICEWATCH_PUSH_TOKEN", "")),
            relay_token=Secret(env.get("VOICEWATCH_RELAY_TOKEN", "")),
            digest_key=Secret(env.get("VOICEWATCH_DIGEST_KEY", "") or _local_digest_key(db_url)),
            callback_url=env.get("VOICEWATCH_CALLBACK_URL", ""),
            pull_interval=_number(env, "VOICEWATCH_PULL_INTERVAL", 5.0),
            retention_days=int(_number(env, "VOICEWATCH_RETENTION_DAYS", 0)),
            dashboard_password=Secret(env.get("VOICEWATCH_DASHBOARD_PASSWORD", "")),
            unmask_password=Secret(env.get("VOICEWATCH_UNMASK_PASSWORD", "")),
            manual_sends_per_hour=int(_number(env, "VOICEWATCH_MANUAL_SENDS_PER_HOUR", 20)),
            upstream_timeout=_number(env, "VOICEWATCH_UPSTREAM_TIMEOUT", 15.0),
            store_wait=_number(env, "VOICEWATCH_STORE_WAIT", 5.0),
            refused_per_minute=int(_number(env, "VOICEWATCH_REFUSED_PER_MINUTE", 60)),
            disk_min_free_mb=_number(env, "VOICEWATCH_DISK_MIN_FREE_MB", 512.0),
            metrics_token=Secret(env.get("VOICEWATCH_METRICS_TOKEN", "")),
            limit_per_hour=_limit(env, "VOICEWATCH_LIMIT_PER_HOUR"),
            limit_per_day=_limit(env, "VOICEWATCH_LIMIT_PER_DAY"),
            no_report_after=_number(env, "VOICEWATCH_NO_REPORT_AFTER", 900.0),
            fee_unit=_fee_unit(env),
            guard_path=env.get("VOICEWATCH_GUARD", ""),
            guard_budget=_number(env, "VOICEWATCH_GUARD_BUDGET_MS", 50.0) / 1000,
        )


def _fee_unit(env: Mapping[str, str]) -> str:
    unit = env.get("VOICEWATCH_FEE_UNIT", "").strip().lower() or "credits"
    if unit not in FEE_UNITS:
        raise SettingsError(f"VOICEWATCH_FEE_UNIT={unit!r}: expected one of {list(FEE_UNITS)}")
    return unit


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None


def _limit(env: Mapping[str, str], name: str) -> int | None:
    """A per-number send limit: a whole number of sends >= 1, or unset (no limit)."""
    raw = (env.get(name) or "").strip()
    if raw.lower() in ("", "none", "off"):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(
            f"{name}={raw!r}: expected a whole number of sends (1 or more), or unset"
        )
    return int(raw)


def _local_digest_key(db_url: str) -> str:
    """A per-installation key kept beside a SQLite database, made on first use.

    Codes are stored only as keyed digests; the key must stay stable so that a code
    can later be checked against its digest, and must not live in the database itself.
    """
    on_disk = db_url.startswith("sqlite:///") and not db_url.endswith(":memory:")
    key_file = (
        Path(db_url.removeprefix("sqlite:///")).with_suffix(".key")
        if on_disk
        else Path("data/voicewatch.key")
    )
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
