"""Throttling: numbers at Yunpian's per-number limits, throttle rejections, heavy callers."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import charts, queries, state
from dashboard.lang import _, language, zone_note
from dashboard.queries.throttling import reached_limits
from ingest.throttle import ThrottleLimits
from ingest.yunpian.codes import lookup

AT_LIMIT_ROWS = 100  # the at-limit table lists this many; the tile counts them all


def account_limits(limits: ThrottleLimits) -> str:
    """Which of the account's 1 h / 24 h limits are in force, as configured, in a sentence."""
    lang = language()
    in_force = []
    if limits.per_hour is not None:
        in_force.append(
            _("**{count} sends in 1 h** (code 22)").format(count=lang.number(limits.per_hour))
        )
    if limits.per_day is not None:
        in_force.append(
            _("**{count} sends in 24 h** (code 17)").format(count=lang.number(limits.per_day))
        )
    if not in_force:
        return _(
            "No 1 h or 24 h limit is configured (VOICEWATCH_LIMIT_PER_HOUR, "
            "VOICEWATCH_LIMIT_PER_DAY): only the same-code rules count here."
        )
    text = _(
        "The account's limits in force, as configured from Yunpian's console: {limits}."
    ).format(limits=_(", ").join(in_force))
    if len(in_force) == 1:
        missing = (
            "VOICEWATCH_LIMIT_PER_DAY" if limits.per_day is None else "VOICEWATCH_LIMIT_PER_HOUR"
        )
        text += " " + _("The other is not configured ({setting}): not counted here.").format(
            setting=missing
        )
    return text


def window(label: str, limit: int | None, help_text: str | None = None):
    """A window's column: a bar towards its limit when there is one, else a plain count."""
    if limit is None:
        return st.column_config.NumberColumn(label, help=help_text)
    return st.column_config.ProgressColumn(
        label, min_value=0, max_value=limit, format="%d", help=help_text
    )


def at_limit_words(df: pd.DataFrame, limits: ThrottleLimits) -> pd.DataFrame:
    """`df` with its "at limit" column in the viewer's language: "3 in 5 min, 1 h"."""
    names = {
        "same code": _("{n} in 5 min").format(n=limits.same_code_per_window),
        "1 h": _("1 h"),
        "24 h": _("24 h"),
    }
    words = [
        _(", ").join(names[name] for name in reached_limits(row, limits)) for row in df.itertuples()
    ]
    return df.assign(at_limit=words)


def reasons_in_words(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with each throttle code's reason in the viewer's language: "[8] …"."""
    code = language().code
    return df.assign(reason=[f"[{c}] {lookup(int(c)).meaning_in(code)}" for c in df["code"]])


st.title(_("Throttling"))
zone_note()
limits = ThrottleLimits.of(state.settings())
lang = language()
st.caption(
    _(
        "Yunpian refuses a send to a number that got **the same code within 30 s** (code 8) or "
        "**the same code {same} times in 5 min** (code 9)."
    ).format(same=limits.same_code_per_window)
    + " "
    + account_limits(limits)
)
filters = state.current_filters()
# The windows end at the view's "now" whatever the range: asked without the range's start,
# a switch of range finds them cached (0.8-1.1 s at 10 M reports on SQLite, every switch).
windows_filters = replace(filters, start=filters.end)
view = state.query(queries.throttle_view, windows_filters, limits, at_limit_rows=AT_LIMIT_ROWS)
over_time = state.query(queries.throttle_rejections_over_time, filters)
frequent = state.query(queries.frequent_numbers, filters)
frequent_total = int(frequent["numbers_total"].iloc[0]) if len(frequent) else 0

tiles = st.columns(4)
tiles[0].metric(_("Numbers at a limit now"), lang.number(view.at_limit_count), border=True)
rejections = int(over_time["rejections"].sum()) if len(over_time) else 0
tiles[1].metric(_("Throttle rejections"), lang.number(rejections), border=True)
tiles[2].metric(_("Numbers called ≥ 8 times"), lang.number(frequent_total), border=True)
tiles[3].metric(
    _("Busiest number, last 24 h"),
    lang.number(view.busiest_24h),
    help=_("Accepted sends to the single most-called number in the last 24 h."),
    border=True,
)

windows = {
    "mobile": st.column_config.TextColumn(_("number")),
    "carrier": st.column_config.TextColumn(_("carrier")),
    "last_30s": st.column_config.NumberColumn(_("30 s"), help=_("accepted sends in the last 30 s")),
    "last_5min": st.column_config.NumberColumn(_("5 min")),
    "same_code_5min": window(_("same code, 5 min"), limits.same_code_per_window),
    "last_1h": window(_("1 h"), limits.per_hour, _("accepted sends in the last hour")),
    "last_24h": window(_("24 h"), limits.per_day, _("accepted sends in the last 24 h")),
    "throttled_24h": st.column_config.NumberColumn(_("throttled, 24 h")),
    "last_sent_at": st.column_config.DatetimeColumn(
        _("last send (China)"), format="MM-DD HH:mm:ss"
    ),
    "at_limit": st.column_config.TextColumn(_("at limit")),
}
st.subheader(_("Numbers at a limit now"))
if view.at_limit.empty:
    st.success(_("No number is at a throttle limit right now."))
else:
    if view.at_limit_count > len(view.at_limit):
        st.caption(
            _("The {shown} busiest of {total} numbers at a limit.").format(
                shown=lang.number(len(view.at_limit)), total=lang.number(view.at_limit_count)
            )
        )
    state.table(
        at_limit_words(view.at_limit, limits),
        "numbers at limit",
        key="at_limit",
        column_config=windows,
        label=_("numbers at limit"),
    )

st.subheader(_("Throttle rejections over time"))
if over_time.empty:
    st.info(_("No throttle rejections in this range."))
else:
    st.altair_chart(charts.throttle_chart(reasons_in_words(over_time)))

left, right = st.columns(2)
with left:
    st.subheader(_("Per-number pressure, last 24 h"))
    state.table(
        at_limit_words(view.pressure, limits),
        "throttle pressure",
        key="pressure",
        column_config=windows,
        height=420,
        label=_("throttle pressure"),
    )
with right:
    st.subheader(_("Called suspiciously often"))
    st.caption(
        _(
            "Many sends or many distinct codes to one number in the range: retry loops or SMS pumping."
        )
    )
    state.table(
        frequent.drop(columns="numbers_total"),
        "frequent numbers",
        key="frequent",
        height=420,
        label=_("frequent numbers"),
        column_config={
            "mobile": st.column_config.TextColumn(_("number")),
            "carrier": st.column_config.TextColumn(_("carrier")),
            "province": st.column_config.TextColumn(
                _("province or country"), help=_("A foreign number's country.")
            ),
            "sends": st.column_config.NumberColumn(_("sends")),
            "accepted": st.column_config.NumberColumn(_("accepted")),
            "throttled": st.column_config.NumberColumn(_("throttled")),
            "codes": st.column_config.NumberColumn(
                _("distinct codes"), help=_("Distinct codes sent to the number in the range.")
            ),
            "answered": st.column_config.NumberColumn(_("answered")),
            "first_sent_at": st.column_config.DatetimeColumn(
                _("first (China)"), format="MM-DD HH:mm"
            ),
            "last_sent_at": st.column_config.DatetimeColumn(
                _("last (China)"), format="MM-DD HH:mm"
            ),
        },
    )
