"""`voicewatch dashboard`: run the Streamlit app as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from ingest.i18n import N_, cli_language

APP = Path(__file__).parent / "app.py"


def streamlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the dashboard on host:port, headless and without telemetry."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",  # a deployed dashboard does not reload on file edits
        "--client.toolbarMode",
        "viewer",  # no "Deploy" button for support staff
    ]


def run_dashboard(
    port: int = 8501, host: str = "127.0.0.1", env: Mapping[str, str] | None = None
) -> subprocess.Popen:
    """Start the dashboard in the background; `env` is added to this process's environment.

    The caller owns the process: terminate() and wait() it when done."""
    return subprocess.Popen(
        streamlit_command(port, host),
        env={**os.environ, **(env or {})},
    )


@click.command(
    "dashboard",
    help=N_("Serve the monitoring dashboard (reads VOICEWATCH_DB and the other settings)."),
)
@click.option("--host", default="127.0.0.1", show_default=True, help=N_("Address to listen on."))
@click.option("--port", default=8501, show_default=True, help=N_("Port to listen on."))
def dashboard(host: str, port: int) -> None:
    language = cli_language(dict(os.environ))
    click.echo(
        language.gettext("dashboard on {url} (Ctrl-C stops it)").format(
            url=f"http://{host}:{port}/"
        )
    )
    # Become Streamlit, so signals (Ctrl-C, a supervisor's SIGTERM) reach the server itself.
    command = streamlit_command(port, host)
    os.execv(command[0], command)
