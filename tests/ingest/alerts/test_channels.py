"""Channels through Apprise, each received by a local HTTP server: the generic JSON webhook as
configured; DingTalk, Feishu, Lark and WeCom bots have fixed hosts in Apprise, so their
plugin's endpoint is pointed at the receiver (the plugins' own code builds and signs the
request). Secrets in channel URLs never show."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import pytest
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot

from ingest.alerts.channels import ChannelError, Channels, mask_url, split_urls
from ingest.alerts.messages import Message, channel_test_message
from ingest.settings import Secret

DING_TOKEN = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6abcd"
DING_SECRET = "SEC0f1e2d3c4b5a69788796a5b4c3d2e1f0ffeeddccbbaa99887766554433221100"
MESSAGE = Message(
    "[CRITICAL] FIRING: Answer rate dropped / 告警: 接通率下降", "• 全部 / all: 30.0%", "critical"
)


def send(url: str) -> list[bool]:
    return [d.ok for d in Channels([Secret(url)]).send(MESSAGE)]


def test_generic_json_webhook_receives_title_and_body(receiver):
    assert send(f"json://{receiver.host}/hooks/oncall") == [True]
    (got,) = receiver.received
    assert got.path == "/hooks/oncall"
    assert got.body["title"] == MESSAGE.title and "30.0%" in got.body["message"]


def test_dingtalk_request_is_signed_with_the_secret(receiver, monkeypatch):
    monkeypatch.setattr(
        NotifyDingTalk, "notify_url", f"{receiver.url}/robot/send?access_token={{token}}"
    )
    monkeypatch.setattr(NotifyDingTalk, "secure_protocol", ("dingtalk",))  # no https forcing
    assert send(f"dingtalk://{DING_SECRET}@{DING_TOKEN}/") == [True]
    (got,) = receiver.received
    assert got.path == "/robot/send" and got.query["access_token"] == DING_TOKEN
    timestamp, signature = got.query["timestamp"], got.query["sign"]
    # DingTalk's check: base64(HMAC-SHA256(secret, "{timestamp}\n{secret}")).
    expected = hmac.new(
        DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(signature) == expected
    assert "接通率下降" in got.text


@pytest.mark.parametrize(
    ("plugin", "endpoint", "url"),
    [
        (NotifyFeishu, "/open-apis/bot/v2/hook/{token}/", "feishu://feishutoken123"),
        (NotifyLark, "/open-apis/bot/v2/hook/", "lark://larktoken123"),
        (NotifyWeComBot, "/cgi-bin/webhook/send?key={key}", "wecombot://wecomkey123"),
    ],
)
def test_chinese_team_chats_receive_the_message(receiver, monkeypatch, plugin, endpoint, url):
    monkeypatch.setattr(plugin, "notify_url", receiver.url + endpoint)
    assert send(url) == [True]
    (got,) = receiver.received
    assert "接通率下降" in got.text and "30.0%" in got.text


def test_one_channel_down_does_not_stop_the_others(receiver):
    channels = Channels([Secret("json://127.0.0.1:9/dead"), Secret(f"json://{receiver.host}/ok")])
    assert [d.ok for d in channels.send(channel_test_message("http://dash"))] == [False, True]
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"dingtalk://{DING_SECRET}@{DING_TOKEN}/", "dingtalk://***"),
        ("wecombot://wecomkey123", "wecombot://***"),
        (
            "json://user:pa55word@hooks.example.com:8443/path?token=t0k3n",
            "json://hooks.example.com:8443/***",
        ),
        ("mailto://alice:hunter2@example.com", "mailto://***"),
    ],
)
def test_channel_urls_are_shown_masked(url, shown):
    assert mask_url(url) == shown
    assert Channels([Secret(url)]).masked == [shown]


def test_a_url_apprise_does_not_understand_is_refused_masked():
    with pytest.raises(ChannelError) as error:
        Channels([Secret("nosuchscheme://s3cr3ttoken@x")])
    assert "s3cr3ttoken" not in str(error.value) and "nosuchscheme://***" in str(error.value)


def test_secrets_in_channel_urls_never_reach_the_logs(receiver, monkeypatch, caplog):
    monkeypatch.setattr(
        NotifyDingTalk, "notify_url", "http://127.0.0.1:9/robot?access_token={token}"
    )
    caplog.set_level(logging.DEBUG)
    send(f"dingtalk://{DING_SECRET}@{DING_TOKEN}/")
    assert caplog.records  # the failure was logged...
    assert DING_SECRET not in caplog.text and DING_TOKEN not in caplog.text  # ...masked


def test_urls_split_on_spaces_commas_and_newlines():
    assert split_urls("json://a/x, dingtalk://s@t/\n  wecombot://k ") == [
        "json://a/x",
        "dingtalk://s@t/",
        "wecombot://k",
    ]
