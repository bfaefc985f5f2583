"""Yunpian's account balance: `POST {sms host}/v2/user/get.json` with the apikey; the answer
is the account object with `balance` and `alarm_balance` (reference, "user/get.json")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.orm import Session

from ingest.settings import Secret, redact
from ingest.store.alert_models import BalanceReading
from ingest.yunpian.client import HEADERS


class BalanceError(Exception):
    """user/get.json did not answer with a balance (text has the apikey removed)."""


@dataclass(frozen=True)
class Balance:
    balance: float
    alarm_balance: float | None


def fetch_balance(client: httpx.Client, base_url: str, apikey: Secret) -> Balance:
    """The account's balance as Yunpian reports it now."""
    try:
        response = client.post(
            f"{base_url.rstrip('/')}/v2/user/get.json",
            data={"apikey": apikey.reveal()},
            headers=HEADERS,
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise BalanceError(
            redact(f"user/get.json: {type(error).__name__}: {error}", apikey)
        ) from None
    balance = body.get("balance") if isinstance(body, dict) else None
    if (
        response.status_code != 200
        or isinstance(balance, bool)
        or not isinstance(balance, int | float)
    ):
        detail = body.get("msg") if isinstance(body, dict) else None
        raise BalanceError(
            redact(
                f"user/get.json answered HTTP {response.status_code} without a balance ({detail})",
                apikey,
            )
        )
    alarm = body.get("alarm_balance")
    alarm = float(alarm) if isinstance(alarm, int | float) and not isinstance(alarm, bool) else None
    return Balance(float(balance), alarm)


def record_balance(session: Session, reading: Balance, now: datetime) -> None:
    session.add(
        BalanceReading(at=now, balance=reading.balance, alarm_balance=reading.alarm_balance)
    )
