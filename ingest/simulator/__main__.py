"""`python -m ingest.simulator`: the same as `voicewatch simulate`."""

from ingest.simulator.cli import simulate

simulate(prog_name="python -m ingest.simulator")
