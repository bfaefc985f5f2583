"""Lookup: everything stored about one number or one sid, and when it can next be called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import queries, state
from dashboard.privacy import show_number
from ingest.numbers import describe, looks_like_mobile

st.title("Lookup")
initial = st.query_params.get("sid") or st.session_state.pop("lookup_query", None)
if initial:
    st.session_state["lookup_input"] = initial
query = st.text_input(
    "Number or sid",
    key="lookup_input",
    placeholder="15205201314, +6591234567 or a 32-character sid",
).strip()
if not query:
    st.info("Type a phone number or a sid, or pick a row on the Failures page.")
    st.stop()

timeline = queries.lookup_timeline(state.engine(), query)
if timeline.empty:
    st.warning(
        f"Nothing stored for {state.outside(show_number(query, state.unmasked()) if looks_like_mobile(query) else query)}."
    )
    st.stop()

mobile = query if looks_like_mobile(query) else str(timeline["mobile"].iloc[0])
info = describe(mobile)
sends = timeline["send_state"].notna()
st.subheader(
    f"{state.outside(show_number(mobile, state.unmasked()))} · {info.carrier} · {info.province}"
)
tiles = st.columns(4)
tiles[0].metric("Sends", int(sends.sum()), border=True)
tiles[1].metric("Accepted", int((timeline["result_code"] == 0).sum()), border=True)
tiles[2].metric("Answered", int((timeline["status"] == "SUCCESS").sum()), border=True)
tiles[3].metric("Not answered", int((timeline["status"] == "FAIL").sum()), border=True)


def latest_outcome(latest: pd.Series) -> None:
    """The answer to "why did the last call not come?" in one line, before any table."""
    sent = f"sent {latest['sent_at']:%m-%d %H:%M:%S}" if pd.notna(latest["sent_at"]) else "report"
    if latest["send_state"] == "unknown":
        st.warning(
            f"Latest send ({sent}) has an unknown outcome: Yunpian's answer was lost, the call "
            "may have been placed. A report for the number within 10 minutes joins it."
        )
    elif pd.notna(latest["result_code"]) and latest["result_code"] != 0:
        st.error(f"Latest send ({sent}) was refused by Yunpian: {state.outside(latest['result'])}.")
    elif latest["status"] == "FAIL":
        reason = latest["error_msg"] if pd.notna(latest["error_msg"]) else "no reason given"
        st.error(f"Latest call ({sent}) was not answered: “{state.outside(reason)}”.")
    elif latest["status"] == "SUCCESS":
        st.success(f"Latest call ({sent}) was answered; it lasted {int(latest['duration'])} s.")
    else:
        st.info(f"Latest call ({sent}) was accepted; its report has not arrived yet.")


latest_outcome(timeline.iloc[0])


def wait_text(wait: timedelta, at) -> str:
    if wait <= timedelta(0):
        return "now"
    minutes, secs = divmod(int(wait.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    span = (
        f"{hours} h {minutes} min"
        if hours
        else (f"{minutes} min {secs} s" if minutes else f"{secs} s")
    )
    return f"in {span} ({state.china_time(at, '%H:%M:%S')})"


nxt = queries.next_accepted_send(state.engine(), mobile, now=datetime.now(UTC))
st.subheader("Next accepted send")
cols = st.columns(2)
cols[0].metric("Same code again", wait_text(nxt.same_code_wait, nxt.same_code_at), border=True)
cols[1].metric("A new code", wait_text(nxt.new_code_wait, nxt.new_code_at), border=True)
st.caption(
    "Worked out from the accepted sends stored for this number in the last 24 h. Repeating the last "
    "code is refused within 30 s of it (code 8) and after 3 sends of it in 5 min (code 9); a new code "
    "goes through at once unless the number has reached the 1 h or 24 h limit (codes 22, 17)."
)
for reason in nxt.reasons:
    st.warning(f"Waiting because {state.outside(reason)}.", icon=":material/hourglass_top:")
if nxt.quiet_hours and info.domestic:
    st.info(
        "That moment is in 22:00–07:30 China time, when Yunpian places no domestic voice calls."
    )

st.subheader("Timeline")
shown = timeline.assign(
    via=[
        "+".join(c for c, flag in (("push", p), ("pull", q)) if flag is True)
        for p, q in zip(timeline["via_push"], timeline["via_pull"], strict=True)
    ]
)
columns = [
    "sent_at",
    "result",
    "status",
    "error_msg",
    "user_receive_time",
    "answer_after_s",
    "duration",
    "via",
    "sid",
    "mobile",
    "source",
    "actor",
    "fee",
    "first_seen",
]
state.table(
    shown[[c for c in columns if c in shown]].replace({pd.NA: None}),
    "lookup timeline",
    key="timeline",
    column_config={
        "sent_at": st.column_config.DatetimeColumn("sent (China)", format="YYYY-MM-DD HH:mm:ss"),
        "user_receive_time": st.column_config.DatetimeColumn(
            "call ended (China)", format="HH:mm:ss"
        ),
        "first_seen": st.column_config.DatetimeColumn("report stored (China)", format="HH:mm:ss"),
        "answer_after_s": st.column_config.NumberColumn("answered after", format="%.0f s"),
        "duration": st.column_config.NumberColumn("duration", format="%d s"),
    },
)
