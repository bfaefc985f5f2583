"""Group commit: requests that wait while a transaction runs share the next one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ingest.store.group_commit import GroupCommitter
from tests.servers import wait_until


def test_requests_that_arrive_during_a_write_share_the_next_one():
    groups: list[list[int]] = []
    first_write_started, release_first_write = threading.Event(), threading.Event()

    def write(items):
        groups.append(list(items))
        if len(groups) == 1:
            first_write_started.set()
            release_first_write.wait(10)
        return [item * 10 for item in items]

    committer = GroupCommitter(write, max_group=4)

    async def main():
        first = asyncio.ensure_future(committer.submit(0))
        await asyncio.to_thread(first_write_started.wait, 10)
        rest = [asyncio.ensure_future(committer.submit(i)) for i in range(1, 7)]
        await asyncio.to_thread(wait_until, lambda: committer._queue.qsize() == 6)
        release_first_write.set()
        return await asyncio.gather(first, *rest)

    try:
        assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50, 60]
    finally:
        committer.close()
    assert groups == [[0], [1, 2, 3, 4], [5, 6]]


def test_a_failing_group_is_retried_then_every_request_gets_the_error(caplog):
    calls = []

    def write(items):
        calls.append(list(items))
        raise OSError("disk gone")

    committer = GroupCommitter(write, attempts=3, backoff=0.001)

    async def main():
        return await committer.submit("push")

    try:
        with pytest.raises(OSError, match="disk gone"):
            asyncio.run(main())
    finally:
        committer.close()
    assert calls == [["push"]] * 3
    assert caplog.text.count("event=store.retry") == 2


def test_close_stores_what_is_queued_first():
    stored = []
    committer = GroupCommitter(lambda items: [stored.extend(items)] * len(items))

    async def main():
        waiting = [asyncio.ensure_future(committer.submit(i)) for i in range(3)]
        await asyncio.sleep(0)
        await asyncio.to_thread(committer.close)
        return await asyncio.gather(*waiting)

    asyncio.run(main())
    assert sorted(stored) == [0, 1, 2]


def test_an_item_the_database_refuses_does_not_fail_the_others_in_its_group():
    held, release = threading.Event(), threading.Event()

    def write(items):
        if items == ["first"]:
            held.set()
            release.wait(10)
        if "bad" in items:
            raise ValueError("value too long for column")
        return [f"stored {item}" for item in items]

    committer = GroupCommitter(write, attempts=2, backoff=0.001)

    async def main():
        first = asyncio.ensure_future(committer.submit("first"))
        await asyncio.to_thread(held.wait, 10)
        group = [asyncio.ensure_future(committer.submit(i)) for i in ("a", "bad", "b")]
        await asyncio.to_thread(wait_until, lambda: committer._queue.qsize() == 3)
        release.set()
        return await asyncio.gather(first, *group, return_exceptions=True)

    try:
        first, a, bad, b = asyncio.run(main())
    finally:
        committer.close()
    assert (first, a, b) == ("stored first", "stored a", "stored b")
    assert isinstance(bad, ValueError)
