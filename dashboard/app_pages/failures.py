"""Failures: why calls went unanswered and why sends were refused, by category in plain words;
a row opens the call."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, queries, state
from dashboard.lang import _, language, zone_note
from dashboard.queries._sql import grain_for
from dashboard.queries.failures import NO_REASON, SEND_CATEGORY
from ingest.i18n import N_
from ingest.yunpian.codes import Category as CodeCategory
from ingest.yunpian.codes import lookup
from ingest.yunpian.reasons import CATEGORY_LABELS, Category, explain

SEND_ADVICE = {
    CodeCategory.THROTTLE: N_(
        "The number reached one of Yunpian's limits: wait for its window to pass (see Throttling)."
    ),
    CodeCategory.INPUT: N_("Check the number and the request's parameters."),
    CodeCategory.AUTH: N_("Check the apikey and the account's IP allow-list in Yunpian's console."),
    CodeCategory.BALANCE: N_("Top up the Yunpian account."),
    CodeCategory.SERVER: N_("Trouble at Yunpian: retry later."),
}

DIMENSIONS = {"carrier": _("carrier"), "province": _("province"), "country": _("country")}


def category_label(key: str) -> str:
    """A failure category in the viewer's language."""
    if key == SEND_CATEGORY:
        return _("refused at send")
    english, chinese = CATEGORY_LABELS[Category(key)]
    return chinese if language().chinese else english


def explained(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its category in words, and each call reason's meaning and advice."""
    chinese = language().chinese
    df = df.copy()
    calls = df["stage"] == "call"
    reasons = (
        df["reason"]
        .where(calls)
        .map(lambda r: explain(None if r == NO_REASON else r) if isinstance(r, str) else None)
    )
    codes = df["code"].where(~calls).map(lambda c: lookup(int(c)) if pd.notna(c) else None)
    df["meaning"] = [
        (r.meaning_zh if chinese else r.meaning_en) if r is not None else code.msg
        for r, code in zip(reasons, codes, strict=True)
    ]
    df["advice"] = [
        (r.advice_zh if chinese else r.advice_en)
        if r is not None
        else _(SEND_ADVICE.get(code.category, N_("Retry later; report it if it recurs.")))
        for r, code in zip(reasons, codes, strict=True)
    ]
    df["category"] = df["category"].map(category_label)
    return in_words(df)


def in_words(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with its stage, and a refused send's reason (its code's meaning), in the viewer's
    language; a call's reason stays as the report gave it."""
    code = language().code
    sends = df["stage"] == "send"
    reason = [
        f"[{int(c)}] {lookup(int(c)).meaning_in(code)}" if send else r
        for r, c, send in zip(df["reason"], df["code"], sends, strict=True)
    ]
    return df.assign(reason=reason, stage=df["stage"].map({"call": _("call"), "send": _("send")}))


st.title(_("Failures"))
zone_note()
filters = state.current_filters()
grain = grain_for(filters.start, filters.end)
st.caption(
    " · ".join(
        [
            state.describe_range(filters),
            state.filters_in_words(filters),
            _("a call failure is the report's reason; a send failure is Yunpian's refusal code"),
        ]
    )
)

reasons = state.query(queries.failure_reasons, filters)
if reasons.empty:
    st.success(_("No failures in this range."))
    st.stop()
reasons = explained(reasons)

st.subheader(_("Reasons"))
st.altair_chart(charts.reasons_chart(reasons))
state.table(
    reasons[["category", "reason", "failures", "share", "advice", "meaning", "stage", "code"]],
    "failure reasons",
    label=_("failure reasons"),
    key="reasons",
    filters=filters,
    column_config={
        "stage": st.column_config.TextColumn(_("stage")),
        "category": st.column_config.TextColumn(_("category"), pinned=True),
        "reason": st.column_config.TextColumn(_("reason"), width="medium"),
        "code": st.column_config.NumberColumn(_("code"), format="%d"),
        "failures": st.column_config.NumberColumn(_("failures")),
        "share": st.column_config.ProgressColumn(
            _("share"), format="percent", min_value=0, max_value=1
        ),
        "meaning": st.column_config.TextColumn(_("meaning"), width="medium"),
        "advice": st.column_config.TextColumn(_("advice"), width="large"),
    },
)

st.subheader(_("Over time"))
over_time = state.query(queries.failures_over_time, filters, grain)
st.altair_chart(
    charts.reasons_over_time_chart(
        over_time.assign(category=over_time["category"].map(category_label)), grain
    )
)

st.subheader(_("Where"))
dimension = (
    st.segmented_control(
        _("Group by"),
        list(DIMENSIONS),
        format_func=DIMENSIONS.get,
        default="carrier",
        key="failures_by",
    )
    or "carrier"
)
by = state.query(queries.failure_reasons_by, filters, dimension)
by = in_words(by.assign(category=by["category"].map(category_label)))
st.altair_chart(charts.reasons_heatmap(by, dimension))
if state.table_asked_for("show_failures_by_table"):
    state.table(
        by,
        f"failures by {dimension}",
        label=_("failures by {dimension}").format(dimension=DIMENSIONS[dimension]),
        key="failures_by_table",
        filters=filters,
        column_config={
            dimension: st.column_config.TextColumn(DIMENSIONS[dimension], pinned=True),
            "stage": st.column_config.TextColumn(_("stage")),
            "category": st.column_config.TextColumn(_("category")),
            "reason": st.column_config.TextColumn(_("reason")),
            "code": st.column_config.NumberColumn(_("code"), format="%d"),
            "failures": st.column_config.NumberColumn(_("failures")),
        },
    )

st.subheader(_("Latest failures"))
st.caption(_("Select a row to open the call's full timeline on the Lookup page."))
latest = state.query(queries.latest_failures, filters)
latest = in_words(latest.assign(category=latest["category"].map(category_label)))[
    [
        "sent_at",
        "mobile",
        "stage",
        "category",
        "reason",
        "carrier",
        "province",
        "source",
        "code",
        "sid",
    ]
]
event = state.table(
    latest,
    "latest failures",
    label=_("latest failures"),
    key="latest_failures",
    filters=filters,
    on_select="rerun",
    column_config={
        "sent_at": st.column_config.DatetimeColumn(
            _("sent (China time)"), format="YYYY-MM-DD HH:mm:ss", pinned=True
        ),
        "stage": st.column_config.TextColumn(_("stage")),
        "mobile": st.column_config.TextColumn(_("number"), pinned=True),
        "category": st.column_config.TextColumn(_("category")),
        "reason": st.column_config.TextColumn(_("reason")),
        "carrier": st.column_config.TextColumn(_("carrier")),
        "province": st.column_config.TextColumn(_("province or country")),
        "source": st.column_config.TextColumn(_("source")),
        "code": st.column_config.NumberColumn(_("code"), format="%d"),
    },
)
rows = event.selection.rows if event is not None else []
if rows:
    picked = latest.iloc[rows[0]]
    # The sid travels in the URL; a bare number stays in the session, out of browser history.
    if isinstance(picked["sid"], str) and picked["sid"]:
        st.session_state["lookup_query"] = picked["sid"]
        st.switch_page("app_pages/lookup.py", query_params={"sid": picked["sid"]})
    st.session_state["lookup_query"] = picked["mobile"]
    st.switch_page("app_pages/lookup.py")
