"""Alerts: what fires now against its baseline and threshold, what fired lately, silences
(audited) and the channels messages go to (masked), with a test button."""

from __future__ import annotations

import os
from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.alert_charts import alert_chart
from dashboard.queries import alerts as alert_queries
from ingest.alerts import silences
from ingest.alerts.channels import ChannelError, Channels
from ingest.alerts.config import AlertSettings
from ingest.alerts.messages import channel_test_message, format_value
from ingest.alerts.rules import Rule, RulesError, load_rules
from ingest.settings import SettingsError

st.title("Alerts")


@st.cache_data(ttl=state.QUERY_TTL, show_spinner=False)
def read(name: str, db_url: str, *args: object) -> pd.DataFrame:
    return getattr(alert_queries, name)(state.engine(), *args)


def actor() -> str:
    """Who acts, for the audit: the logged-in viewer, or the name typed here."""
    return state.viewer() or st.session_state.get("alerts_actor", "").strip()


def configuration() -> tuple[AlertSettings, list[Rule]]:
    try:
        alert_settings = AlertSettings.from_env(os.environ)
        return alert_settings, load_rules(alert_settings.rules_path)
    except (SettingsError, RulesError) as error:
        st.error(f"Alert configuration: {error}")
        st.stop()


def silence_form(rule: Rule, subject: str) -> None:
    with st.form(f"silence-{rule.name}-{subject}", border=False):
        cols = st.columns([1, 3, 1])
        hours = cols[0].number_input("Hours", min_value=0.25, max_value=168.0, value=2.0, step=0.25)
        reason = cols[1].text_input("Reason", placeholder="e.g. carrier maintenance until 16:00")
        if cols[2].form_submit_button("Silence"):
            try:
                now = state.now()
                silences.silence(
                    state.engine(),
                    rule.name,
                    subject,
                    now + timedelta(hours=hours),
                    reason,
                    actor(),
                    now,
                )
            except silences.SilenceError as error:
                st.error(str(error))
                return
            read.clear()
            st.rerun()


def firing_alert(row: pd.Series, rule: Rule) -> None:
    with st.container(border=True):
        st.subheader(f"{rule.title_en} · {rule.title_zh}")
        if row["subject"]:
            st.text(row["subject"].replace("=", ": ", 1))
        cols = st.columns(4)
        cols[0].metric("Now", format_value(rule.kind, row["value"]))
        cols[1].metric("Threshold", format_value(rule.kind, row["threshold"]))
        cols[2].metric(
            "Baseline",
            format_value(rule.kind, row["baseline"]) if pd.notna(row["baseline"]) else "—",
        )
        cols[3].metric("Sample", f"{int(row['sample']):,}")
        st.caption(
            f"{row['status'].upper()} · {rule.severity} · since {state.china_time(row['since'])} China time"
        )
        if row["example"]:
            st.text(f"Example: {row['example']}")
        points = read(
            "alert_measurements",
            state.settings().db_url,
            rule.name,
            row["subject"],
            state.now() - timedelta(hours=6),
        )
        if not points.empty:
            st.altair_chart(alert_chart(points), use_container_width=True)
        silence_form(rule, row["subject"])


def firing_section(states: pd.DataFrame, rules: dict[str, Rule]) -> None:
    active = states[states["status"].isin(("firing", "pending"))]
    if active.empty:
        st.success("Nothing firing.", icon=":material/check_circle:")
    for _, row in active.iterrows():
        if row["rule"] in rules:
            firing_alert(row, rules[row["rule"]])


def silences_section(db_url: str) -> None:
    st.header("Silences")
    now = state.now()
    table = read("alert_silences", db_url, now - timedelta(days=7))
    if table.empty:
        st.caption("No silences in the last 7 days.")
        return
    st.dataframe(table, hide_index=True, use_container_width=True)
    running = table[table["lifted_at"].isna() & (pd.to_datetime(table["ends_at"], utc=True) > now)]
    for _, row in running.iterrows():
        label = f"Lift silence {row['id']} ({row['rule']} {row['subject'] or 'all'})"
        if st.button(label, key=f"lift-{row['id']}"):
            try:
                silences.lift(state.engine(), int(row["id"]), actor(), state.now())
            except silences.SilenceError as error:
                st.error(str(error))
                return
            read.clear()
            st.rerun()


def channels_section(alert_settings: AlertSettings) -> None:
    st.header("Channels")
    try:
        channels = Channels(alert_settings.urls)
    except ChannelError as error:
        st.error(str(error))
        return
    if not channels:
        st.info("No channel configured: set VOICEWATCH_ALERT_URLS (Apprise URLs).")
        return
    for name in channels.masked:
        st.text(name)
    if st.button("Send test", icon=":material/send:"):
        for delivery in channels.send(channel_test_message(alert_settings.dashboard_url)):
            (st.success if delivery.ok else st.error)(
                f"{'sent' if delivery.ok else 'failed'}: {delivery.channel}"
            )


def page() -> None:
    alert_settings, rules = configuration()
    by_name = {rule.name: rule for rule in rules}
    db_url = state.settings().db_url
    if not state.viewer():
        st.text_input("Your name, recorded with silences you set or lift", key="alerts_actor")
    states = read("alert_states", db_url, state.now() - timedelta(days=1))
    wanted_rule, wanted_subject = st.query_params.get("rule"), st.query_params.get("subject")
    if wanted_rule:
        states = states[states["rule"] == wanted_rule]
        if wanted_subject:
            states = states[states["subject"] == wanted_subject]
        st.caption(f"Showing {wanted_rule} {wanted_subject or ''} only.")
    firing_section(states, by_name)
    st.header("Resolved, last 24 h")
    st.dataframe(states[states["status"] == "resolved"], hide_index=True, use_container_width=True)
    st.header("Notifications, last 24 h")
    st.dataframe(
        read("recent_events", db_url, state.now() - timedelta(days=1)),
        hide_index=True,
        use_container_width=True,
    )
    silences_section(db_url)
    channels_section(alert_settings)


page()
