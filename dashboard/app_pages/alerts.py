"""Alerts: what fires now against its baseline and threshold, what fired lately, silences
(audited) and the channels messages go to (masked), with a test button."""

from __future__ import annotations

import os
from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.alert_charts import alert_chart
from dashboard.lang import _, language, place, zone_note
from dashboard.queries import alerts as alert_queries
from dashboard.queries._sql import to_china
from ingest.alerts import silences
from ingest.alerts.channels import ChannelError, Channels
from ingest.alerts.config import AlertSettings
from ingest.alerts.messages import SHARE_KINDS, channel_test_message, format_value
from ingest.alerts.rules import Rule, RulesError, load_rules
from ingest.settings import SettingsError

st.title(_("Alerts"))
zone_note()


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
        st.error(_("Alert configuration: {error}").format(error=error))
        st.stop()


def silence_form(rule: Rule, subject: str) -> None:
    with st.form(f"silence-{rule.name}-{subject}", border=False):
        cols = st.columns([1, 3, 1])
        hours = cols[0].number_input(
            _("Hours"), min_value=0.25, max_value=168.0, value=2.0, step=0.25
        )
        reason = cols[1].text_input(
            _("Reason"), placeholder=_("e.g. carrier maintenance until 16:00")
        )
        if cols[2].form_submit_button(_("Silence")):
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


def shown_value(kind: str, value: float | None) -> str:
    """A measured value in the rule kind's unit, as the viewer reads it: '78.0%', '120 秒'."""
    if value is None or pd.isna(value):
        return "—"
    lang = language()
    if kind in SHARE_KINDS:
        return lang.percent(value)
    if kind in ("pull_stale", "push_stale"):
        return _("{n} s").format(n=lang.number(value))
    if kind == "balance_runway":
        return _("{n} h").format(n=lang.number(value, 1))
    return format_value(kind, value)


def subject_words(subject: str) -> str:
    """'carrier=China Mobile' as 'carrier: China Mobile' / '运营商：中国移动'."""
    scope, _sep, where = subject.partition("=")
    return _("{scope}: {where}").format(scope=_(scope), where=place(where))


def rule_title(rule: Rule) -> str:
    """The rule's title in the viewer's language (the rules file gives both)."""
    return (rule.title_zh if language().chinese else rule.title_en) or rule.name


def firing_alert(row: pd.Series, rule: Rule) -> None:
    with st.container(border=True):
        st.subheader(rule_title(rule))
        if row["subject"]:
            st.text(subject_words(row["subject"]))
        cols = st.columns(4)
        cols[0].metric(_("Now"), shown_value(rule.kind, row["value"]))
        cols[1].metric(_("Threshold"), shown_value(rule.kind, row["threshold"]))
        cols[2].metric(_("Baseline"), shown_value(rule.kind, row["baseline"]))
        cols[3].metric(_("Calls counted"), language().number(int(row["sample"])))
        st.caption(
            _("{status} · {severity} · since {since}").format(
                status=_(alert_queries.STATUS_WORDS[row["status"]]),
                severity=_(alert_queries.SEVERITY_WORDS[rule.severity]),
                since=language().datetime(row["since"].astimezone(state.CHINA)),
            )
        )
        if row["example"]:
            st.text(_("Example: {example}").format(example=row["example"]))
        points = read(
            "alert_measurements",
            state.settings().db_url,
            rule.name,
            row["subject"],
            state.now() - timedelta(hours=6),
        )
        if not points.empty:
            st.altair_chart(alert_chart(points), width="stretch")
        silence_form(rule, row["subject"])


def firing_section(states: pd.DataFrame, rules: dict[str, Rule]) -> None:
    active = states[states["status"].isin(("firing", "pending"))]
    if active.empty:
        st.success(_("Nothing firing."), icon=":material/check_circle:")
    for _index, row in active.iterrows():
        if row["rule"] in rules:
            firing_alert(row, rules[row["rule"]])


def silences_section(db_url: str) -> None:
    st.header(_("Silences"))
    now = state.now()
    table = read("alert_silences", db_url, now - timedelta(days=7))
    if table.empty:
        st.caption(_("No silences in the last 7 days."))
        return
    shown_table(table)
    running = table[table["lifted_at"].isna() & (pd.to_datetime(table["ends_at"], utc=True) > now)]
    for _index, row in running.iterrows():
        label = _("Lift silence {id} ({rule} {subject})").format(
            id=row["id"], rule=row["rule"], subject=state.outside(row["subject"]) or _("all")
        )
        if st.button(label, key=f"lift-{row['id']}"):
            try:
                silences.lift(state.engine(), int(row["id"]), actor(), state.now())
            except silences.SilenceError as error:
                st.error(str(error))
                return
            read.clear()
            st.rerun()


def shown_table(table: pd.DataFrame) -> None:
    """One of the page's tables with its headers and words in the viewer's language, times in
    China time; the figures as stored."""
    words = {**alert_queries.STATUS_WORDS, **alert_queries.SEVERITY_WORDS}
    shown = to_china(table.copy(), *(c for c in alert_queries.TIME_COLUMNS if c in table))
    for column in ("status", "event", "severity"):
        if column in shown:
            shown[column] = shown[column].map(
                lambda word: _(words[word]) if word in words else word
            )
    if "silenced" in shown:
        shown["silenced"] = shown["silenced"].map(lambda yes: _("yes") if yes else _("no"))
    config = {}
    for column in shown.columns:
        label = _(alert_queries.COLUMN_LABELS[column])
        if column in alert_queries.TIME_COLUMNS:
            config[column] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm:ss")
        else:
            config[column] = st.column_config.Column(label)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)


def channels_section(alert_settings: AlertSettings) -> None:
    st.header(_("Channels"))
    try:
        channels = Channels(alert_settings.urls)
    except ChannelError as error:
        st.error(str(error))
        return
    if not channels:
        st.info(_("No channel configured: set VOICEWATCH_ALERT_URLS (Apprise URLs)."))
        return
    for name in channels.masked:
        st.text(name)
    if st.button(_("Send test"), icon=":material/send:"):
        for delivery in channels.send(channel_test_message(alert_settings.dashboard_url)):
            if delivery.ok:
                st.success(_("sent: {channel}").format(channel=delivery.channel))
            else:
                st.error(_("failed: {channel}").format(channel=delivery.channel))


def page() -> None:
    alert_settings, rules = configuration()
    by_name = {rule.name: rule for rule in rules}
    db_url = state.settings().db_url
    if not state.viewer():
        st.text_input(_("Your name, recorded with silences you set or lift"), key="alerts_actor")
    states = read("alert_states", db_url, state.now() - timedelta(days=1))
    wanted_rule, wanted_subject = st.query_params.get("rule"), st.query_params.get("subject")
    if wanted_rule:
        states = states[states["rule"] == wanted_rule]
        if wanted_subject:
            states = states[states["subject"] == wanted_subject]
        st.caption(
            _("Showing {rule} {subject} only.").format(
                rule=state.outside(wanted_rule), subject=state.outside(wanted_subject or "")
            )
        )
    firing_section(states, by_name)
    st.header(_("Resolved, last 24 h"))
    shown_table(states[states["status"] == "resolved"])
    st.header(_("Notifications, last 24 h"))
    shown_table(read("recent_events", db_url, state.now() - timedelta(days=1)))
    silences_section(db_url)
    channels_section(alert_settings)


page()
