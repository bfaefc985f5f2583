"""Lookup: everything stored about one number (however written) or one sid, and when it can
next be called. Words and times as ingest/support.py defines them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import queries, state
from dashboard.lang import _, language, place, zone_note
from dashboard.privacy import show_number
from dashboard.queries.lookup import REJECTED, RESULT_WORDS
from ingest import support
from ingest.numbers import as_sent, canonical, describe, looks_like_mobile, partial_number
from ingest.throttle import ThrottleLimits
from ingest.yunpian.codes import lookup

st.title(_("Lookup"))
zone_note()
settings = state.settings()
lang = language()
params = st.query_params
initial = params.get("sid") or params.get("number") or st.session_state.pop("lookup_query", None)
if initial:
    st.session_state["lookup_input"] = initial
query = st.text_input(
    _("Number or sid"),
    key="lookup_input",
    placeholder=_("152 0520 1314, +86 152…, 152****1314, the last 4 digits, or a sid"),
).strip()
if not query:
    st.info(_("Type a phone number or a sid, or pick a row on the Failures page."))
    st.stop()


def choose_number(partial) -> None:
    """A partial number lists the stored numbers it may mean; one click looks one up."""
    choices = queries.number_choices(state.engine(), partial)
    if not choices:
        st.warning(_("No stored number matches {query}.").format(query=state.outside(query)))
        st.stop()
    st.info(_("{query} is a partial number: pick the number you mean.").format(query=query))
    for choice in choices:
        info = describe(choice.number)
        sends = lang.ngettext("{n} send", "{n} sends", choice.sends).format(n=choice.sends)
        written = as_sent(choice.number) or choice.number
        label = f"{show_number(written, state.unmasked())} · {place(info.carrier)} · {place(info.province)} · {sends}"
        if st.button(label, key=f"choose-{choice.number}"):
            st.session_state["lookup_query"] = choice.number
            st.rerun()
    st.stop()


partial = partial_number(query)
if partial is not None:
    choose_number(partial)

now = datetime.now(UTC)
no_report_after = timedelta(seconds=settings.no_report_after)
by_sid = not (looks_like_mobile(query) or canonical(query))
timeline = queries.lookup_timeline(state.engine(), query, now=now, no_report_after=no_report_after)
picked_sid = None
if not timeline.empty and by_sid:
    # A sid is shown within its number's history, its call marked.
    picked_sid = str(timeline["sid"].iloc[0])
    timeline = queries.lookup_timeline(
        state.engine(), str(timeline["number"].iloc[0]), now=now, no_report_after=no_report_after
    )
if timeline.empty:
    shown = show_number(query, state.unmasked()) if looks_like_mobile(query) else query
    st.warning(_("Nothing stored for {query}.").format(query=state.outside(shown)))
    st.stop()

mobile = str(timeline["number"].iloc[0])  # canonical: what its history is kept by
info = describe(mobile)
written_as = str(timeline["mobile"].iloc[0])
st.subheader(
    f"{state.outside(show_number(written_as, state.unmasked()))} · {place(info.carrier)} · {place(info.province)}"
)
if picked_sid:
    st.caption(
        _("Call {sid} is marked ▶ in its number's history below.").format(
            sid=state.outside(picked_sid)
        )
    )
    st.page_link(
        "app_pages/lookup.py",
        label=_("Full timeline of this number"),
        icon=":material/timeline:",
        query_params={"number": mobile},
    )
sends = timeline["send_state"].notna()
outcomes = timeline["outcome"]
tiles = st.columns(5)
tiles[0].metric(_("Sends"), lang.number(int(sends.sum())), border=True)
tiles[1].metric(_("Accepted"), lang.number(int((timeline["result_code"] == 0).sum())), border=True)
for tile, word in zip(
    tiles[2:], (support.ANSWERED, support.NOT_ANSWERED, support.NO_REPORT), strict=True
):
    tile.metric(_(word).capitalize(), lang.number(int((outcomes == word).sum())), border=True)


def latest_outcome(latest: pd.Series, head_text: str) -> None:
    """The answer to "why did the last call not come?" in one line, before any table."""
    sent = (
        support.when(latest["sent_at"].to_pydatetime(), now, lang)
        if pd.notna(latest["sent_at"])
        else _("report only")
    )
    head = head_text.format(sent=sent, outcome=_(latest["outcome"]))
    word = latest["outcome"]
    if word == support.ANSWERED:
        span = lang.duration(timedelta(seconds=int(latest["duration"])))
        st.success(head + " " + _("The call lasted {span}.").format(span=span))
    elif word == support.NOT_ANSWERED:
        category, meaning, advice = support.report_reason(latest["error_msg"], lang)
        reason = latest["error_msg"] if pd.notna(latest["error_msg"]) else "—"
        st.error(
            f"{head} “{state.outside(reason)}”: {category} — {state.outside(meaning)}. {advice}"
        )
    elif word == support.REFUSED:
        st.error(head + " " + support.refusal_message(int(latest["result_code"]), lang))
    elif word == support.UNKNOWN_OUTCOME:
        st.warning(
            head
            + " "
            + _(
                "Yunpian's answer was lost and the call may have been placed; a "
                "report for the number within 10 minutes joins it."
            )
        )
    elif word == support.NO_REPORT:
        st.warning(
            head
            + " "
            + _("No report came within {span}: check Ingest health (push and pull).").format(
                span=lang.duration(no_report_after)
            )
        )
    else:
        st.info(head)


if picked_sid:  # the call asked about, whatever came after it
    latest_outcome(
        timeline[timeline["sid"] == picked_sid].iloc[0], _("This call (sent {sent}): {outcome}.")
    )
else:
    latest_outcome(timeline.iloc[0], _("Latest call (sent {sent}): {outcome}."))

limits = ThrottleLimits.of(settings)
nxt = queries.next_accepted_send(state.engine(), mobile, now=now, limits=limits)
st.subheader(_("Next accepted send"))
cols = st.columns(2)
cols[0].metric(_("Same code again"), support.wait_text(nxt.same_code_at, now, lang), border=True)
cols[1].metric(_("A new code"), support.wait_text(nxt.new_code_at, now, lang), border=True)
st.caption(
    _("Worked out from the accepted sends stored for this number in the last 24 h.")
    + " "
    + support.limits_in_force(limits, lang)
)
for code in nxt.codes:
    st.warning(
        _("Waiting because {reason}.").format(reason=support.wait_reason(code, limits, lang)),
        icon=":material/hourglass_top:",
    )
if nxt.quiet_hours and info.domestic:
    st.info(
        _("That moment is in 22:00–07:30 China time, when Yunpian places no domestic voice calls.")
    )

st.subheader(_("Timeline"))
st.caption(
    _(
        "“Call ended” is Yunpian's user_receive_time: when an answered call hung up or an "
        "unanswered one stopped ringing."
    )
)


def result_in_words(send_state: object, code: object) -> str:
    """What became of a send, in the viewer's language: a refusal's code and meaning."""
    if not isinstance(send_state, str):
        return ""
    if send_state == REJECTED:
        return f"[{int(code)}] {lookup(int(code)).meaning_in(lang.code)}"
    return _(RESULT_WORDS.get(send_state, send_state))


shown = timeline.assign(
    mark=["▶" if picked_sid and sid == picked_sid else "" for sid in timeline["sid"]],
    result=[
        result_in_words(send_state, code)
        for send_state, code in zip(timeline["send_state"], timeline["result_code"], strict=True)
    ],
    outcome=[_(word) for word in timeline["outcome"]],
    reason=[
        support.report_reason(msg, lang)[0] if status == "FAIL" else None
        for msg, status in zip(timeline["error_msg"], timeline["status"], strict=True)
    ],
    via=[
        "+".join(c for c, flag in (("push", p), ("pull", q)) if flag is True)
        for p, q in zip(timeline["via_push"], timeline["via_pull"], strict=True)
    ],
)
columns = [
    "mark",
    "sent_at",
    "outcome",
    "result",
    "status",
    "reason",
    "error_msg",
    "user_receive_time",
    "call_ended_after_s",
    "duration",
    "via",
    "sid",
    "mobile",
    "source",
    "actor",
    "fee",
    "first_seen",
]
fee_column = f"fee_{settings.fee_unit}"  # the unit in the name, so the download carries it
state.table(
    shown[[c for c in columns if c in shown]]
    .replace({pd.NA: None})
    .rename(columns={"fee": fee_column}),
    "lookup timeline",
    key="timeline",
    label=_("lookup timeline"),
    column_config={
        "mark": st.column_config.TextColumn(" ", width="small"),
        "sent_at": st.column_config.DatetimeColumn(_("sent"), format="YYYY-MM-DD HH:mm:ss"),
        "outcome": _("outcome"),
        "reason": _("reason"),
        "user_receive_time": st.column_config.DatetimeColumn(
            _(support.CALL_ENDED), format="HH:mm:ss"
        ),
        "first_seen": st.column_config.DatetimeColumn(_("report stored"), format="HH:mm:ss"),
        # Seconds in the labels: a column with missing values is shown as text (no format).
        "call_ended_after_s": st.column_config.NumberColumn(
            _("{span} (s)").format(span=_(support.SEND_TO_END)), format="%.0f"
        ),
        "duration": st.column_config.NumberColumn(
            _("{span} (s)").format(span=_("call lasted")), format="%d"
        ),
        "result": _("result"),
        "status": _("status"),
        "error_msg": _("Yunpian's reason"),
        "via": _("report via"),
        "mobile": _("number"),
        "source": _("source"),
        "actor": _("sent by"),
        fee_column: st.column_config.NumberColumn(_("fee ({unit})").format(unit=state.fee_unit())),
    },
)
