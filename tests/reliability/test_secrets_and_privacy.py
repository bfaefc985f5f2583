"""A full run — relay, CLI and dashboard sends, push, pull, a failing upstream, every page —
with a distinctive apikey and tokens: none of them reaches a log, a page, an exception,
/metrics or the database; no code is stored but as a digest; no full number is logged or shown."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from ingest import pull
from ingest.service.app import create_app
from ingest.settings import Secret, Settings
from ingest.store.engine import make_engine
from ingest.yunpian.client import VoiceClient, YunpianError
from tests.reliability.support import dump_database, values_containing
from tests.servers import ServerThread, wait_until

APP = Path(__file__).parents[2] / "dashboard" / "app.py"
APIKEY = "ZqX7apikeyNEVERshowMEk3y9W2v8T1u"
PUSH_TOKEN = "pushTOKENneverSHOWNq81"
RELAY_TOKEN = "relayTOKENneverSHOWNz52"
SECRETS = (APIKEY, PUSH_TOKEN, RELAY_TOKEN)
# Mobile -> code, one per way of sending. The codes must show up nowhere but as digests.
RELAYED, BY_CLI, BY_DASHBOARD = (
    ("13811112222", "731904"),
    ("13933334444", "582617"),
    (
        "13755556666",
        "640395",
    ),
)
PAGES = ("overview", "failures", "throttling", "health", "lookup", "send_test")


@dataclass
class Seen:
    """Everything a person or a program could read after the run."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + "\n" + text

    def containing(self, needle: str) -> list[str]:
        return [where for where, text in self.texts.items() if needle in text]


def rendered(at: AppTest) -> str:
    """Every element the page rendered, as text, with its tables in full."""
    parts: list[str] = []

    def walk(node) -> None:
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


@pytest.fixture
def flow_env(tmp_path, make_simulator, misbehaving) -> dict:
    url = f"sqlite:///{tmp_path / 'voicewatch.db'}"
    return {
        "url": url,
        "simulator": make_simulator(apikey=APIKEY),
        "echo": misbehaving("echo"),
    }


def run_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout + done.stderr


def test_no_secret_code_or_full_number_leaks_anywhere(flow_env, caplog, monkeypatch):
    url, simulator, echo = flow_env["url"], flow_env["simulator"], flow_env["echo"]
    engine = make_engine(url)  # before capturing: migrating sets the log levels
    # As ingest.logs.configure does in every voicewatch process. (Here httpx would also log
    # the simulator's own push requests, whose URL carries the push token: Yunpian's side.)
    caplog.set_level(logging.WARNING, logger="httpx")
    caplog.set_level(logging.INFO)  # last: it sets the capturing handler's level too
    settings = Settings.from_env(
        {
            "VOICEWATCH_DB": url,
            "YUNPIAN_APIKEY": APIKEY,
            "YUNPIAN_VOICE_URL": simulator.url,
            "VOICEWATCH_PUSH_TOKEN": PUSH_TOKEN,
            "VOICEWATCH_RELAY_TOKEN": RELAY_TOKEN,
            "VOICEWATCH_DIGEST_KEY": "flow-digest-key",
        },
        env_file=None,
    )
    cli_env = {
        "VOICEWATCH_DB": url,
        "YUNPIAN_APIKEY": APIKEY,
        "YUNPIAN_VOICE_URL": simulator.url,
        "VOICEWATCH_DIGEST_KEY": "flow-digest-key",
    }
    seen = Seen()
    with (
        ServerThread(create_app(settings, engine)) as ingest,
        ServerThread(create_app(replace(settings, voice_url=echo.url), engine)) as broken,
    ):
        callback = f"{ingest.url}/push/voice?token={PUSH_TOKEN}"
        # 1. A relayed send, through the token path, its report pushed back.
        mobile, code = RELAYED
        relayed = httpx.post(
            f"{ingest.url}/relay/{RELAY_TOKEN}/v2/voice/send.json",
            data={"apikey": APIKEY, "mobile": mobile, "code": code, "callback_url": callback},
        )
        assert relayed.status_code == 200, relayed.text
        # 2. A send from the CLI, and a pull of every report.
        mobile, code = BY_CLI
        seen.add("cli send", run_cli(cli_env, "send", mobile, "--code", code))
        wait_until(lambda: simulator.state()["pull_queue"]["1"] >= 1, timeout=10)
        with VoiceClient(simulator.url, Secret(APIKEY)) as client:
            pull.run(client, engine, once=True)
        # 3. The upstream fails and echoes requests back: relay, client, CLI pull.
        seen.add(
            "relay answer",
            httpx.post(
                f"{broken.url}/relay/{RELAY_TOKEN}/v2/voice/send.json",
                data={"apikey": APIKEY, "mobile": RELAYED[0], "code": RELAYED[1]},
            ).text.replace(APIKEY, "<the caller's own key>"),
        )
        with VoiceClient(echo.url, Secret(APIKEY), backoff=0.01) as client:
            for attempt in (
                lambda: client.send(*BY_CLI),
                lambda: pull.run(client, engine, once=True),
            ):
                with pytest.raises(YunpianError) as raised:
                    attempt()
                seen.add("exceptions", f"{raised.value!s} {raised.value!r} {raised.value.args}")
        seen.add("cli pull", run_cli(cli_env | {"YUNPIAN_VOICE_URL": echo.url}, "pull", "--once"))
        assert any(APIKEY.encode() in body for body in echo.requests)  # it did get the key
        wait_until(lambda: any(r.via_push for r in _reports(engine)), timeout=10)
        for service in (ingest, broken):
            seen.add("metrics", httpx.get(f"{service.url}/metrics").text)
            seen.add("healthz", httpx.get(f"{service.url}/healthz").text)

    ingest_logs = caplog.text
    seen.add("logs", ingest_logs)

    # 4. Every dashboard page, and a send from it.
    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)
    for name in ("VOICEWATCH_DASHBOARD_PASSWORD", "VOICEWATCH_UNMASK_PASSWORD"):
        monkeypatch.setenv(name, "")
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        if page == "lookup":
            at.text_input(key="lookup_input").input(RELAYED[0]).run()
        if page == "send_test":
            mobile, code = BY_DASHBOARD
            at.text_input(key="send_actor").input("li.wei")
            next(t for t in at.text_input if t.label == "Number").input(mobile)
            at.text_input(key="test_code").input(code)
            next(b for b in at.button if b.label == "Check").click().run()
            seen.add("send page before the call", rendered(at))  # the code is shown to confirm
            next(b for b in at.button if b.label == "Yes, call now").click().run()
            assert any("Accepted" in s.value for s in at.success)
        assert not at.exception, (page, at.exception)
        seen.add(f"page {page}", rendered(at))

    seen.add("logs", caplog.text)
    dump = dump_database(engine)
    engine.dispose()

    for secret in SECRETS:
        assert seen.containing(secret) == [], secret
        assert values_containing(dump, secret) == [], secret
    for mobile, code in (RELAYED, BY_CLI, BY_DASHBOARD):
        assert values_containing(dump, code) == [], code
        shown_anywhere = set(seen.containing(mobile)) - {"relay answer"}
        assert shown_anywhere == set(), mobile
        assert values_containing(dump, mobile)  # stored in full, for lookup
    assert "138****2222" in seen.texts["page lookup"]  # the number is there, masked
    assert "event=relay.send mobile=138****2222" in ingest_logs


def _reports(engine):
    from sqlalchemy import select

    from ingest.store.models import Report

    with engine.connect() as connection:
        return list(connection.execute(select(Report)))
