"""Fixtures of the reliability and security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.support import MisbehavingUpstream


@pytest.fixture
def misbehaving() -> Iterator:
    """`misbehaving(mode)` → a running MisbehavingUpstream, closed after the test."""
    started: list[MisbehavingUpstream] = []

    def start(mode: str) -> MisbehavingUpstream:
        upstream = MisbehavingUpstream(mode)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.close()
