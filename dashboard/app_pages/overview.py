"""Overview: headline tiles with changes against the comparison period, volume, answer rates,
the week-over-week table, fees; all in one fixed range per page view."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import charts, queries, state
from dashboard.lang import _, language, zone_note
from dashboard.queries._sql import grain_for, grains_for

st.title(_("Overview"))
zone_note()
live = st.toggle(
    _("Auto-refresh every 30 s"), key="overview_live", help=_("For the on-call screen.")
)
DIMENSIONS = {"carrier": _("carrier"), "province": _("province"), "country": _("country")}
GRAINS = {"minute": _("by minute"), "hour": _("by hour"), "day": _("by day"), "week": _("by week")}


def grain_picker(filters: queries.Filters) -> str:
    """The charts' bucket size: the range's own, or another that suits it (weeks for a month)."""
    auto = grain_for(filters.start, filters.end)
    options = grains_for(filters.start, filters.end)
    if auto not in options:
        options = sorted({*options, auto}, key=list(GRAINS).index)
    picked = st.segmented_control(
        _("Charts"), options, format_func=GRAINS.get, default=auto, key=f"grain_{auto}"
    )
    return picked or auto


def change(value, previous, fmt, comparable: bool) -> str | None:
    """'+12' / '-3.0 pp' against the comparison period; None when it cannot be compared or
    nothing changed (a zero change is no change, in no colour)."""
    if not comparable or value is None or previous is None:
        return None
    delta = value - previous
    if fmt(abs(delta)) == fmt(0):
        return None
    return ("+" if delta > 0 else "-") + fmt(abs(delta))


def tile(
    column, label, value, previous, fmt, comparable, *, inverse=False, neutral=False, help=None
) -> None:
    """A metric with its change; `inverse`: a rise is bad, `neutral`: neither is."""
    column.metric(
        label,
        "—" if value is None else fmt(value),
        change(value, previous, fmt, comparable),
        delta_color="off" if neutral else "inverse" if inverse else "normal",
        help=help,
        border=True,
    )


def tiles(now: queries.Kpis, before: queries.Kpis, comparable: bool, no_report) -> None:
    """Ten tiles in two rows: what became of the sends, then what they cost and how fast they
    were answered. `no_report`: (this period, the one before)."""
    lang = language()
    count = lang.number
    points = lambda v: _("{n} pp").format(n=lang.number(v * 100, 1))  # noqa: E731
    secs = lambda v: _("{n} s").format(n=lang.number(v, 1))  # noqa: E731
    row1 = st.columns(5)
    tile(row1[0], _("Sends"), now.sends, before.sends, count, comparable)
    tile(row1[1], _("Accepted"), now.accepted, before.accepted, count, comparable)
    row1[2].metric(
        _("Answer rate"),
        state.percent(now.answer_rate),
        change(now.answer_rate, before.answer_rate, points, comparable),
        help=_("Answered share of the calls whose report has arrived."),
        border=True,
    )
    tile(row1[3], _("Not answered"), now.failed, before.failed, count, comparable, inverse=True)
    tile(
        row1[4],
        _("No report"),
        no_report[0],
        no_report[1],
        count,
        comparable,
        inverse=True,
        help=_(
            "Accepted calls whose report had not arrived {span} after the send: Yunpian never "
            "said whether the call was made. Younger calls are still pending. The time is set "
            "by VOICEWATCH_NO_REPORT_AFTER (seconds) in the environment of the dashboard."
        ).format(span=lang.duration(no_report_after())),
    )
    unit = state.fee_unit()
    row2 = st.columns(5)
    tile(
        row2[0],
        _("Throttled"),
        now.throttled,
        before.throttled,
        count,
        comparable,
        inverse=True,
        help=_("Rejected with code 8, 9, 17 or 22."),
    )
    tile(
        row2[1],
        _("Fees ({unit})").format(unit=unit),
        now.fees,
        before.fees,
        lambda v: lang.number(v),
        comparable,
        inverse=True,
    )
    tile(
        row2[2],
        _("Per answer ({unit})").format(unit=unit),
        now.cost_per_answered,
        before.cost_per_answered,
        lambda v: lang.number(v, 2),
        comparable,
        inverse=True,
        help=_("Fees of the range divided by its answered calls."),
    )
    # user_receive_time is when the call ended (ingest/support.py): these spans hold the
    # ringing and the talk, and are named for what they measure.
    end_help = _(
        "Over the answered calls: from the send to the end of the call, the report's "
        "user_receive_time (when the answered call hung up), so ringing and talk together. "
        "Lookup shows the same span for each call as “send → call ended”."
    )
    for column, label, value, previous in (
        (row2[3], _("Median to call end"), now.median_answer_s, before.median_answer_s),
        (row2[4], _("p95 to call end"), now.p95_answer_s, before.p95_answer_s),
    ):
        tile(column, label, value, previous, secs, comparable, inverse=True, help=end_help)


def no_report_after() -> timedelta:
    """After how long an accepted call with no report is "no report" (VOICEWATCH_NO_REPORT_AFTER)."""
    return timedelta(seconds=state.settings().no_report_after)


def comparison_table(period: state.Period) -> None:
    st.subheader(_("Compared with the previous period"))
    dimension = (
        st.segmented_control(
            _("By"),
            list(DIMENSIONS),
            format_func=DIMENSIONS.get,
            default="carrier",
            key="compare_by",
        )
        or "carrier"
    )
    table = state.query(queries.period_comparison, period.filters, period.previous, dimension)
    st.caption(
        _(
            "Busiest first. A rate needs {n} reported calls; a change is marked significant "
            "when it would happen by chance less than 1 time in 20."
        ).format(n=queries.MIN_SAMPLE)
    )
    shown = table.assign(
        sends_change=table["sends_change"].map(
            lambda v: "" if pd.isna(v) else f"{v:+,.0f}" if v else "0"
        ),
        rate_change=table["rate_change"].map(
            lambda v: "" if pd.isna(v) else _("{n} pp").format(n=_signed(v * 100, 1))
        ),
        significant=table["significant"].map(
            lambda v: _("too few calls") if v is None else _("yes") if v else _("no")
        ),
    )
    state.table(
        shown,
        f"comparison by {dimension}",
        label=_("comparison"),
        key="comparison",
        filters=period.filters,
        column_config={
            dimension: st.column_config.TextColumn(DIMENSIONS[dimension], pinned=True),
            "sends": st.column_config.NumberColumn(_("sends")),
            "sends_before": st.column_config.NumberColumn(_("sends before")),
            "sends_change": st.column_config.TextColumn(_("change in sends")),
            "answer_rate": st.column_config.NumberColumn(_("answer rate"), format="percent"),
            "answer_rate_before": st.column_config.NumberColumn(_("before"), format="percent"),
            "rate_change": st.column_config.TextColumn(_("change")),
            "significant": st.column_config.TextColumn(_("significant")),
        },
    )


def _signed(value: float, digits: int) -> str:
    """'+3.8', '-0.4', and '0.0' for what rounds to nothing (no '-0.0')."""
    shown = f"{value:+.{digits}f}"
    return shown[1:] if float(shown) == 0 else shown


@st.fragment(run_every="30s" if live else None)
def overview() -> None:
    if live:
        state.refresh_view()
    period = state.current_period()
    filters = period.filters
    kpi = state.query(queries.kpi_comparison, filters, period.previous)
    first = state.query(queries.first_send_at)
    comparable = queries.comparable(kpi.previous.sends, period.previous, first)
    words = [state.describe_range(filters), state.filters_in_words(filters)]
    if comparable:
        words.append(state.describe_comparison(period))
    else:
        words.append(_("no comparable data before this range: no changes shown"))
    st.caption(" · ".join(words))
    no_report = [
        state.query(queries.no_report_count, f, state.view_now(), no_report_after())
        for f in (filters, period.previous)
    ]
    tiles(kpi.current, kpi.previous, comparable, no_report)

    st.subheader(_("Sends by outcome"))
    grain = grain_picker(filters)
    volume = state.query(
        queries.volume_by_outcome,
        filters,
        grain,
        no_report_before=state.view_now() - no_report_after(),
    )
    if volume.empty:
        st.info(_("No sends in this range."))
        return
    st.altair_chart(charts.volume_chart(volume, grain))
    st.subheader(_("Answer rate by carrier"))
    rates = state.query(queries.answer_rate_over_time, filters, grain)
    if not rates.empty:
        st.altair_chart(charts.answer_rate_chart(rates, grain))
        st.caption(
            _(
                "A point needs {n} reported calls: lines break where a bucket has fewer, "
                "or none (the quiet hours)."
            ).format(n=charts.MIN_POINT)
        )
    if comparable:
        comparison_table(period)
    dimension = (
        st.segmented_control(
            _("Answer rate by"),
            list(DIMENSIONS),
            format_func=DIMENSIONS.get,
            default="carrier",
            key="rate_by",
        )
        or "carrier"
    )
    by = state.query(queries.answer_rate_by, filters, dimension)
    st.altair_chart(charts.rate_by_chart(by, dimension))
    if state.table_asked_for("show_rate_by_table"):
        state.table(
            by,
            f"answer rate by {dimension}",
            label=_("answer rate by {dimension}").format(dimension=DIMENSIONS[dimension]),
            key="rate_by_table",
            filters=filters,
            column_config={
                dimension: st.column_config.TextColumn(DIMENSIONS[dimension], pinned=True),
                **_rate_column(),
            },
        )
    fees_section(filters, grain)


def fees_section(filters: queries.Filters, grain: str) -> None:
    unit = state.fee_unit()
    st.subheader(_("Fees ({unit})").format(unit=unit))
    fees = state.query(queries.fees_over_time, filters, grain)
    if not fees.empty:
        st.altair_chart(charts.fees_chart(fees, unit, grain))
    # The unit goes into the column names, so a downloaded file carries it too.
    code = state.settings().fee_unit
    fees = fees.rename(
        columns={"fees": f"fees_{code}", "cost_per_answered": f"fee_per_answered_{code}"}
    )
    if state.table_asked_for("show_fees"):
        state.table(
            fees,
            "fees",
            label=_("fees"),
            key="fees",
            filters=filters,
            column_config={
                **_count_columns(),
                "bucket": st.column_config.DatetimeColumn(
                    _("from (China time)"), format="YYYY-MM-DD HH:mm"
                ),
                f"fees_{code}": st.column_config.NumberColumn(_("fees ({unit})").format(unit=unit)),
                f"fee_per_answered_{code}": st.column_config.NumberColumn(
                    _("fee per answered call ({unit})").format(unit=unit), format="%.2f"
                ),
            },
        )
    state.raw_export_button(filters)


def _rate_column() -> dict:
    return {
        **_count_columns(),
        "failed": st.column_config.NumberColumn(_("not answered")),
        "answer_rate": st.column_config.ProgressColumn(
            _("answer rate"), format="percent", min_value=0, max_value=1
        ),
    }


def _count_columns() -> dict:
    return {
        name: st.column_config.NumberColumn(label)
        for name, label in (
            ("sends", _("sends")),
            ("accepted", _("accepted")),
            ("answered", _("answered")),
        )
    }


overview()
