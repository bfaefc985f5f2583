"""Guard: what the relay's guard refused or would have refused, and its allow/block lists."""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.lang import _, language, zone_note
from dashboard.queries import decisions_over_time, guard_totals, top_blocked
from ingest.guard.config import MODES, load_config
from ingest.guard.lists import (
    KINDS,
    ListError,
    add_entry,
    list_changes,
    list_entries,
    load_lists,
    remove_entry,
)
from ingest.guard.replay import replay

WORDS = {
    "allow": _("allow"),
    "block": _("block"),
    "off": _("off"),
    "record-only": _("record-only"),
    "enforce": _("enforce"),
}
COLUMNS = {
    "country": st.column_config.TextColumn(_("country")),
    "prefix": st.column_config.TextColumn(_("prefix")),
    "blocked": st.column_config.NumberColumn(_("blocked")),
    "would_block": st.column_config.NumberColumn(_("would block (record-only)")),
    "list": st.column_config.TextColumn(_("list")),
    "value": st.column_config.TextColumn(_("number or prefix")),
    "note": st.column_config.TextColumn(_("why")),
    "added_by": st.column_config.TextColumn(_("added by")),
    "added_at": st.column_config.DatetimeColumn(_("added"), format="YYYY-MM-DD HH:mm"),
    "at": st.column_config.DatetimeColumn(_("when"), format="YYYY-MM-DD HH:mm"),
    "action": st.column_config.TextColumn(_("action")),
    "who": st.column_config.TextColumn(_("who")),
    "via": st.column_config.TextColumn(_("via")),
}


def words(value: object) -> object:
    """A list kind or rule mode in the viewer's language; anything else as it is."""
    return WORDS.get(value, value) if isinstance(value, str) else value


st.title(_("Guard"))
zone_note()
st.caption(
    _(
        "Rules the relay applies before a send leaves. Enforced rules refuse the send (code "
        "-901, no fee); record-only rules let it go and record what they would have done."
    )
)
filters = state.current_filters()
lang = language()
totals = state.query(guard_totals, filters)
tiles = st.columns(4)
tiles[0].metric(_("Sends checked"), lang.number(totals["checked"]), border=True)
tiles[1].metric(_("Blocked"), lang.number(totals["blocked"]), border=True)
tiles[2].metric(_("Record-only would block"), lang.number(totals["would_block"]), border=True)
tiles[3].metric(
    _("Estimated spend saved"),
    state.fee(totals["spend_saved"], 1),
    help=_("Blocked sends at the mean fee of an accepted call in this range."),
    border=True,
)

st.subheader(_("Decisions over time, by rule and mode"))
over_time = state.query(decisions_over_time, filters)
if over_time.empty:
    st.info(_("No guard rule fired in this range."))
else:
    over_time["mode"] = over_time["mode"].map(words)
    over_time["rule_mode"] = over_time["rule"] + " (" + over_time["mode"] + ")"
    st.altair_chart(
        alt.Chart(over_time)
        .mark_bar()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("sum(sends):Q", title=_("Sends")),
            color=alt.Color("rule_mode:N", title=_("Rule (mode)")),
            tooltip=[
                alt.Tooltip("bucket:T", title=_("China time (UTC+8)"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("rule:N", title=_("rule")),
                alt.Tooltip("mode:N", title=_("mode")),
                alt.Tooltip("outcome:N", title=_("outcome")),
                alt.Tooltip("sends:Q", title=_("Sends")),
            ],
        ),
        width="stretch",
    )

left, right = st.columns(2)
with left:
    st.subheader(_("Top blocked countries"))
    state.table(
        state.query(top_blocked, filters, "country"),
        "guard countries",
        column_config=COLUMNS,
        label=_("guard countries"),
    )
with right:
    st.subheader(_("Top blocked prefixes"))
    state.table(
        state.query(top_blocked, filters, "prefix"),
        "guard prefixes",
        column_config=COLUMNS,
        label=_("guard prefixes"),
    )

st.subheader(_("Allow and block lists"))
entries = pd.DataFrame(
    [(e.kind, e.value, e.note, e.added_by, e.added_at) for e in list_entries(state.engine())],
    columns=["list", "value", "note", "added_by", "added_at"],
)
state.table(
    entries.assign(list=entries["list"].map(words)),
    "guard lists",
    key="guard_lists",
    column_config=COLUMNS,
    label=_("guard lists"),
)
with st.form("guard_list_edit"):
    kind = st.selectbox(_("List"), KINDS, format_func=words)
    value = st.text_input(_("Number, or prefix ending in *"))
    note = st.text_input(_("Why (kept in the audit)"))
    add, remove = st.columns(2)
    adding = add.form_submit_button(_("Add"))
    removing = remove.form_submit_button(_("Remove"))
if adding or removing:
    viewer = state.viewer() or "dashboard"
    try:
        if adding:
            changed = add_entry(state.engine(), kind, value, viewer, "dashboard", note)
        else:
            changed = remove_entry(state.engine(), kind, value, viewer, "dashboard")
    except ListError as error:
        st.error(str(error))
    else:
        st.success(_("Done.") if changed else _("Nothing to change."))
with st.expander(_("Changes to the lists")):
    changes = pd.DataFrame(
        list_changes(state.engine()), columns=["at", "action", "list", "value", "who", "via"]
    )
    state.table(
        changes.assign(list=changes["list"].map(words)),
        "guard list changes",
        key="guard_changes",
        column_config=COLUMNS,
        label=_("guard list changes"),
    )

st.subheader(_("Replay before enforcing"))
with st.form("guard_replay"):
    days = st.number_input(_("Days to replay"), min_value=1, max_value=90, value=7)
    mode = st.selectbox(
        _("Every rule in mode"), MODES, index=MODES.index("enforce"), format_func=words
    )
    run = st.form_submit_button(_("Replay"))
if run:
    config = load_config(state.settings().guard_path or None).with_modes(mode)
    end = state.now()
    result = replay(
        state.engine(), config, load_lists(state.engine()), end - timedelta(days=days), end
    )
    blocked = len(result.blocked)
    genuine = len(result.genuine_blocked)
    cols = st.columns(3)
    cols[0].metric(_("Sends replayed"), lang.number(len(result.sends)))
    cols[1].metric(_("Would be blocked"), lang.number(blocked))
    cols[2].metric(
        _("Genuine-looking among them"),
        lang.percent(genuine / blocked) if blocked else "–",
        help=_("Numbers that answered a call and were not in a burst."),
    )
