"""Send a test call: check the throttle first, confirm, send, then watch the report arrive."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import queries, state
from dashboard.privacy import show_number
from dashboard.queries.health import manual_send_audit, viewer_audit
from ingest.numbers import describe, looks_like_mobile
from ingest.store.writes import code_digest
from ingest.throttle import in_quiet_hours

REPORT_WAIT = timedelta(minutes=5)

st.title("Send test call")
settings = state.settings()
engine = state.engine()
if settings.simulated:
    st.info(
        "No Yunpian apikey is configured: calls go to voicewatch's simulator, not to real phones."
    )

actor = (
    state.viewer()
    or st.text_input("Your name", key="send_actor", help="Recorded with the send.").strip()
)
if "test_code" not in st.session_state:
    st.session_state["test_code"] = str(random.randrange(10 ** random.choice((3, 4, 5)), 10**6))[:6]

with st.form("send_form"):
    mobile = st.text_input("Number", placeholder="15205201314 or +6591234567").strip()
    code = st.text_input(
        "Code", key="test_code", help="4–6 digits; a fresh random code by default."
    ).strip()
    display_num = st.text_input("Display number (optional)").strip() or None
    callback_url = (
        st.text_input("Callback URL (optional)", placeholder=settings.callback_url or "").strip()
        or None
    )
    checked = st.form_submit_button("Check", type="primary")

if checked:
    st.session_state.pop("pending_send", None)
    problems = []
    if not actor:
        problems.append("Give your name: manual sends are limited and recorded per person.")
    if not looks_like_mobile(mobile):
        problems.append(
            f"{state.outside(repr(mobile))} is not a number Yunpian accepts (domestic 1xxxxxxxxxx, or +country code)."
        )
    if not re.fullmatch(r"\d{4,6}", code):
        problems.append("The code must be 4 to 6 digits.")
    for problem in problems:
        st.error(problem)
    if not problems:
        st.session_state["pending_send"] = {
            "mobile": mobile,
            "code": code,
            "display_num": display_num,
            "callback_url": callback_url,
            "actor": actor,
        }

pending = st.session_state.get("pending_send")
if pending:
    now = datetime.now(UTC)
    used = queries.manual_sends_since(engine, pending["actor"], now - timedelta(hours=1))
    left = settings.manual_sends_per_hour - used
    nxt = queries.next_accepted_send(
        engine,
        pending["mobile"],
        code_digest=code_digest(settings.digest_key, pending["mobile"], pending["code"]),
        now=now,
    )
    shown = show_number(pending["mobile"], state.unmasked())
    st.subheader(f"Call {state.outside(shown)} with code {state.outside(pending['code'])}?")
    st.caption(
        f"{describe(pending['mobile']).carrier} · {describe(pending['mobile']).province} · you have {max(left, 0)} of {settings.manual_sends_per_hour} manual sends left this hour"
    )
    if nxt.same_code_at > now:
        wait = int((nxt.same_code_at - now).total_seconds()) + 1
        st.warning(
            f"Yunpian would refuse this send now: {state.outside('; '.join(nxt.reasons))}. "
            f"It would be accepted in {wait} s ({state.china_time(nxt.same_code_at, '%H:%M:%S')} China time)"
            + (", or now with a new code." if nxt.new_code_at <= now else "."),
            icon=":material/block:",
        )
    if describe(pending["mobile"]).domestic and in_quiet_hours(now):
        st.warning("It is 22:00–07:30 in China: Yunpian does not place domestic voice calls now.")
    if left <= 0:
        st.error(f"You have used all {settings.manual_sends_per_hour} manual sends for this hour.")
    else:
        yes, no = st.columns([1, 5])
        if yes.button("Yes, call now", type="primary"):
            from ingest.sending import (
                send_test_call,
            )  # imported late: sending needs the HTTP client

            outcome = send_test_call(
                settings,
                engine,
                pending["mobile"],
                pending["code"],
                display_num=pending["display_num"],
                callback_url=pending["callback_url"],
                source="dashboard",
                actor=pending["actor"],
            )
            st.session_state.pop("pending_send")
            st.session_state.pop("test_code")
            st.session_state["last_send"] = {"outcome": outcome, "at": time.time(), "shown": shown}
            st.rerun()
        if no.button("Cancel"):
            st.session_state.pop("pending_send")
            st.rerun()

last = st.session_state.get("last_send")
if last:
    outcome = last["outcome"]
    st.divider()
    if outcome.result_code is None:
        st.warning(
            "Outcome unknown: Yunpian's answer was lost and the call may have been placed. "
            "Do not send again; the Lookup page shows its report when it comes."
        )
    elif not outcome.accepted:
        st.error(
            f"Yunpian refused the send: code {outcome.result_code} — "
            f"{state.outside(outcome.msg)} {state.outside(outcome.detail)}"
        )
    else:
        st.success(
            f"Accepted: sid {state.outside(outcome.sid)}, fee {outcome.fee:g}. "
            f"Calling {state.outside(last['shown'])}…"
        )

        @st.fragment(run_every=2)
        def live_report() -> None:
            report = queries.report_for_sid(engine, outcome.sid)
            waited = time.time() - last["at"]
            if report is None:
                if waited > REPORT_WAIT.total_seconds():
                    st.warning(
                        "No report after 5 minutes. Check the Ingest health page: is pull or push working?"
                    )
                else:
                    st.info(
                        f"Waiting for the report… {waited:.0f} s", icon=":material/hourglass_top:"
                    )
                return
            via = "+".join(
                c for c, f in (("push", report.via_push), ("pull", report.via_pull)) if f
            )
            if report.status == "SUCCESS":
                st.success(
                    f"Answered at {state.china_time(report.user_receive_time)} China time, call lasted {report.duration} s (report via {via})."
                )
            else:
                st.error(
                    f"Not answered: {state.outside(report.error_msg or 'no reason given')} (report via {via})."
                )
            st.page_link(
                "app_pages/lookup.py",
                label="Open in Lookup",
                icon=":material/search:",
                query_params={"sid": outcome.sid},
            )

        live_report()

st.divider()
st.subheader("Manual sends, last 7 days")
st.caption("Every call placed by hand, here or with `voicewatch send`: who, when, which number.")
state.table(
    manual_send_audit(engine, datetime.now(UTC) - timedelta(days=7)),
    "manual sends",
    key="manual_sends",
    column_config={
        "sent_at": st.column_config.DatetimeColumn("sent (China)", format="MM-DD HH:mm:ss")
    },
)

st.subheader("Logins and unmasks, last 7 days")
st.caption(
    "Every login, failed or refused login, logout and unmask of the dashboard: who, from where."
)
state.table(
    viewer_audit(engine, datetime.now(UTC) - timedelta(days=7)),
    "viewer audit",
    key="viewer_audit",
    column_config={"at": st.column_config.DatetimeColumn("at (China)", format="MM-DD HH:mm:ss")},
)
