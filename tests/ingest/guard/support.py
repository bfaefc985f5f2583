"""Rule files the guard's tests use: the README's recommended first step past the dry run."""

from __future__ import annotations

from pathlib import Path

# Velocity rules enforced, everything else as shipped (record-only, lists enforced).
ENFORCE_VELOCITY = '[number]\nmode = "enforce"\n[range]\nmode = "enforce"\n'


def velocity_rules(directory: Path) -> str:
    """The path of a guard file enforcing the number and range rules."""
    path = directory / "enforce-velocity.toml"
    path.write_text(ENFORCE_VELOCITY)
    return str(path)
