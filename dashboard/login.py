"""The password login: a signed, expiring cookie that keeps it across reloads and shared
links, failed logins rate-limited per viewer name and per client, every login, failed login,
logout and unmask in the audit log.

The cookie is signed with itsdangerous (Pallets) under a key made of the dashboard password
and the installation's digest key: changing the password logs everyone out; without both
keys nobody can make one. Streamlit cannot set cookies from Python, so a one-line script in
the page sets it; Streamlit hands it back in `st.context.cookies` on the next connection."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import streamlit as st
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from ingest.settings import Settings
from ingest.store.audit import failures_since, record_viewer_event
from ingest.text import printable

COOKIE = "voicewatch_login"
LOGIN_TTL = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5  # wrong passwords for one name in FAILURE_WINDOW
MAX_FAILURES_PER_CLIENT = 20  # wrong passwords from one address in FAILURE_WINDOW
_SALT = "voicewatch.dashboard-login"


def client_address() -> str:
    """The viewer's address as Streamlit saw the connection ('localhost' on loopback)."""
    try:
        return printable(st.context.ip_address or "localhost")[:64]
    except Exception:  # no browser session (a bare script run)
        return "localhost"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    key = f"{settings.dashboard_password.reveal()}\0{settings.digest_key.reveal()}"
    return URLSafeTimedSerializer(key, salt=_SALT)


def login_token(settings: Settings, viewer: str) -> str:
    """The cookie value that says `viewer` logged in now."""
    return _serializer(settings).dumps({"viewer": viewer})


def viewer_from_token(settings: Settings, token: str | None) -> str | None:
    """Who `token` says logged in, or None if it is missing, forged, tampered or expired."""
    if not token or not settings.dashboard_password:
        return None
    try:
        data = _serializer(settings).loads(token, max_age=int(LOGIN_TTL.total_seconds()))
    except BadSignature:  # SignatureExpired is one
        return None
    viewer = data.get("viewer") if isinstance(data, dict) else None
    return viewer if isinstance(viewer, str) and viewer else None


def remembered_viewer(settings: Settings) -> str | None:
    """The viewer the browser's login cookie names, if it is valid."""
    return viewer_from_token(settings, st.context.cookies.get(COOKIE))


def set_cookie(token: str | None) -> None:
    """Have the browser keep `token` as the login cookie (None: forget it)."""
    max_age = int(LOGIN_TTL.total_seconds()) if token else 0
    cookie = json.dumps(f"{COOKIE}={token or ''}; Max-Age={max_age}; Path=/; SameSite=Strict")
    # The token is URL-safe base64 and dots (itsdangerous), and json.dumps quotes it: nothing
    # from outside reaches this script.
    secure = '(location.protocol === "https:" ? "; Secure" : "")'
    st.html(
        f"<script>document.cookie = {cookie} + {secure};</script>", unsafe_allow_javascript=True
    )


def try_login(settings: Settings, engine: Engine, name: str, entered: str) -> str:
    """Check one login attempt and log it: 'ok', 'wrong' (or no name), or 'limited' (too many
    recent failures for this name or from this client: the password is not even checked)."""
    name, client = printable(name).strip()[:64], client_address()
    since = datetime.now(UTC) - FAILURE_WINDOW
    by_name, by_client = failures_since(engine, ("login_failed",), since, name, client)
    if by_name >= MAX_FAILURES_PER_NAME or by_client >= MAX_FAILURES_PER_CLIENT:
        record_viewer_event(engine, "login_refused", name, client)
        return "limited"
    if name and secrets.compare_digest(entered, settings.dashboard_password.reveal()):
        record_viewer_event(engine, "login", name, client)
        return "ok"
    record_viewer_event(engine, "login_failed", name, client)
    return "wrong"


def unmask_allowed(engine: Engine, viewer: str) -> bool:
    """Whether this viewer and client may try the unmask password again now."""
    since = datetime.now(UTC) - FAILURE_WINDOW
    by_name, by_client = failures_since(engine, ("unmask_failed",), since, viewer, client_address())
    return by_name < MAX_FAILURES_PER_NAME and by_client < MAX_FAILURES_PER_CLIENT


def audit(engine: Engine, event: str, viewer: str | None) -> None:
    """Log an event of this session's viewer from this client."""
    record_viewer_event(engine, event, viewer or "", client_address())
