"""Send a test call: check the throttle first, confirm, send, then watch the report arrive."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import queries, state
from dashboard.lang import _, language, zone_note
from dashboard.privacy import show_number
from dashboard.queries.health import manual_send_audit, viewer_audit
from ingest import support
from ingest.numbers import as_sent, describe
from ingest.store.writes import code_digest
from ingest.support import call_problems
from ingest.throttle import ThrottleLimits, in_quiet_hours

REPORT_WAIT = timedelta(minutes=5)

st.title(_("Send test call"))
zone_note()
settings = state.settings()
engine = state.engine()
lang = language()
limits = ThrottleLimits.of(settings)
if settings.simulated:
    st.info(
        _(
            "No Yunpian apikey is configured: calls go to voicewatch's simulator, not to real phones."
        )
    )

actor = (
    state.viewer()
    or st.text_input(_("Your name"), key="send_actor", help=_("Recorded with the send.")).strip()
)
if "test_code" not in st.session_state:
    st.session_state["test_code"] = str(random.randrange(10 ** random.choice((3, 4, 5)), 10**6))[:6]

with st.form("send_form"):
    mobile = st.text_input(
        _("Number"), placeholder=_("152 0520 1314, +86 152 0520 1314 or +65 9123 4567")
    ).strip()
    code = st.text_input(
        _("Code"), key="test_code", help=_("4–6 digits; a fresh random code by default.")
    ).strip()
    display_num = st.text_input(_("Display number (optional)")).strip() or None
    callback_url = (
        st.text_input(_("Callback URL (optional)"), placeholder=settings.callback_url or "").strip()
        or None
    )
    checked = st.form_submit_button(_("Check"), type="primary")

if checked:
    # A new check: the previous send's result and confirmation no longer apply.
    st.session_state.pop("pending_send", None)
    st.session_state.pop("last_send", None)
    problems = (
        [] if actor else [_("Give your name: manual sends are limited and recorded per person.")]
    )
    problems += call_problems(mobile, code, lang)
    for problem in problems:
        st.error(state.outside(problem))
    if not problems:
        st.session_state["pending_send"] = {
            "mobile": as_sent(mobile),  # one number, one history, however it was typed
            "code": code,
            "display_num": display_num,
            "callback_url": callback_url,
            "actor": actor,
        }


def confirm(pending: dict) -> None:
    """The check's verdict and the buttons: "send anyway" is never the primary one when
    Yunpian is predicted to refuse."""
    now = datetime.now(UTC)
    used = queries.manual_sends_since(engine, pending["actor"], now - timedelta(hours=1))
    left = settings.manual_sends_per_hour - used
    digest = code_digest(settings.digest_key, pending["mobile"], pending["code"])
    nxt = queries.next_accepted_send(
        engine, pending["mobile"], code_digest=digest, now=now, limits=limits
    )
    shown = show_number(pending["mobile"], state.unmasked())
    info = describe(pending["mobile"])
    st.subheader(
        _("Call {number} with code {code}?").format(
            number=state.outside(shown), code=state.outside(pending["code"])
        )
    )
    st.caption(
        f"{info.carrier} · {info.province} · "
        + _("you have {left} of {total} manual sends left this hour").format(
            left=max(left, 0), total=settings.manual_sends_per_hour
        )
    )
    st.caption(support.limits_in_force(limits, lang))
    refused = nxt.same_code_at > now
    if refused:
        reasons = "; ".join(support.wait_reason(c, limits, lang) for c in nxt.codes)
        later = _("It would be accepted {wait}").format(
            wait=support.wait_text(nxt.same_code_at, now, lang)
        )
        newer = _(", or now with a new code.") if nxt.new_code_at <= now else "."
        st.warning(
            _("Yunpian would refuse this send now: {reasons}.").format(reasons=reasons)
            + f" {later}{newer}",
            icon=":material/block:",
        )
    if info.domestic and in_quiet_hours(now):
        st.warning(
            _("It is 22:00–07:30 in China: Yunpian does not place domestic voice calls now.")
        )
    if left <= 0:
        st.error(
            _("You have used all {total} manual sends for this hour.").format(
                total=settings.manual_sends_per_hour
            )
        )
        return
    yes, no = st.columns([1, 1] if refused else [1, 5])
    label = _("Send anyway") if refused else _("Yes, call now")
    if yes.button(label, type="secondary" if refused else "primary"):
        from ingest.sending import send_test_call  # imported late: needs the HTTP client

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
    if no.button(_("Cancel"), type="primary" if refused else "secondary"):
        st.session_state.pop("pending_send")
        st.rerun()


pending = st.session_state.get("pending_send")
if pending:
    confirm(pending)


def show_report(report) -> None:
    """The stored report of the test call, in the words of ingest/support.py."""
    via = "+".join(c for c, f in (("push", report.via_push), ("pull", report.via_pull)) if f)
    ended = (
        support.when(report.user_receive_time, datetime.now(UTC), lang)
        if report.user_receive_time
        else "—"
    )
    if report.status == "SUCCESS":
        st.success(
            _("Answered: call ended {ended} China time, lasted {span} (report via {via}).").format(
                ended=ended,
                span=lang.duration(timedelta(seconds=report.duration or 0)),
                via=via,
            )
        )
    else:
        category, meaning, advice = support.report_reason(report.error_msg, lang)
        st.error(
            _(
                "Not answered (call ended {ended} China time): “{reason}”, {category} — {meaning}. {advice}"
            ).format(
                ended=ended,
                reason=state.outside(report.error_msg or "—"),
                category=category,
                meaning=state.outside(meaning),
                advice=advice,
            )
        )


last = st.session_state.get("last_send")
if last:
    outcome = last["outcome"]
    st.divider()
    if outcome.result_code is None:
        st.warning(
            _(
                "Outcome unknown: Yunpian's answer was lost and the call may have been placed. "
                "Do not send again; the Lookup page shows its report when it comes."
            )
        )
    elif not outcome.accepted:
        st.error(
            _("Yunpian refused the send: {reason}").format(
                reason=support.refusal_message(outcome.result_code, lang)
            )
        )
    else:
        st.success(
            _("Accepted: sid {sid}, fee {fee}. Calling {number}…").format(
                sid=state.outside(outcome.sid),
                fee=state.fee(outcome.fee, 2 if outcome.fee % 1 else 0),
                number=state.outside(last["shown"]),
            )
        )

        @st.fragment(run_every=2)
        def live_report() -> None:
            report = queries.report_for_sid(engine, outcome.sid)
            waited = time.time() - last["at"]
            if report is None:
                if waited > REPORT_WAIT.total_seconds():
                    st.warning(
                        _(
                            "No report after 5 minutes. Check the Ingest health page: is pull or push working?"
                        )
                    )
                else:
                    st.info(
                        _("Waiting for the report… {span}").format(
                            span=lang.duration(timedelta(seconds=waited))
                        ),
                        icon=":material/hourglass_top:",
                    )
                return
            show_report(report)
            st.page_link(
                "app_pages/lookup.py",
                label=_("Open in Lookup"),
                icon=":material/search:",
                query_params={"sid": outcome.sid},
            )

        live_report()

st.divider()
st.subheader(_("Manual sends, last 7 days"))
st.caption(_("Every call placed by hand, here or with `voicewatch send`: who, when, which number."))
state.table(
    manual_send_audit(engine, datetime.now(UTC) - timedelta(days=7)),
    "manual sends",
    key="manual_sends",
    label=_("manual sends"),
    column_config={
        "sent_at": st.column_config.DatetimeColumn(_("sent (China)"), format="MM-DD HH:mm:ss"),
        "source": st.column_config.TextColumn(_("source")),
        "actor": st.column_config.TextColumn(_("sent by")),
        "mobile": st.column_config.TextColumn(_("number")),
        "result_code": st.column_config.NumberColumn(_("code")),
        "result_msg": st.column_config.TextColumn(_("Yunpian's answer")),
    },
)

st.subheader(_("Logins and unmasks, last 7 days"))
st.caption(
    _("Every login, failed or refused login, logout and unmask of the dashboard: who, from where.")
)
state.table(
    viewer_audit(engine, datetime.now(UTC) - timedelta(days=7)),
    "viewer audit",
    key="viewer_audit",
    label=_("viewer audit"),
    column_config={
        "at": st.column_config.DatetimeColumn(_("at (China)"), format="MM-DD HH:mm:ss"),
        "event": st.column_config.TextColumn(_("event")),
        "viewer": st.column_config.TextColumn(_("viewer")),
        "client": st.column_config.TextColumn(_("from")),
    },
)
