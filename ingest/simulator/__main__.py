"""`python -m ingest.simulator`: the same as `voicewatch simulate`, in the same language."""

import os

from ingest.cli_language import cache_folder, speak
from ingest.i18n import cli_language
from ingest.simulator.cli import simulate

speak(simulate, cli_language(dict(os.environ)), cache_folder(os.environ))
simulate(prog_name="python -m ingest.simulator")
