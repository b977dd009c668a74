"""`bounded`: a close that hangs is given up on after its time limit; a failing one is logged."""

from __future__ import annotations

import asyncio

import pytest

from src.core import teardown

pytestmark = pytest.mark.once


async def test_work_that_finishes_is_awaited() -> None:
    done = []

    async def close() -> None:
        await asyncio.sleep(0)
        done.append(True)

    assert await teardown.bounded(close(), "a close", seconds=5)
    assert done == [True]


async def test_work_that_hangs_is_given_up_on_and_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = asyncio.get_running_loop().create_future()
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await never  # aiortc's close of a connection whose first close was cut short
        except asyncio.CancelledError:
            cancelled.set()
            raise

    assert not await teardown.bounded(hang(), "closing a stuck peer", seconds=0.05)
    await asyncio.wait_for(cancelled.wait(), 5)
    assert "closing a stuck peer did not finish" in caplog.text


async def test_work_that_ignores_its_cancellation_does_not_hold_the_caller() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # as a teardown that suppresses cancellation does

    assert not await teardown.bounded(stubborn(), "a stubborn close", seconds=0.05)
    assert teardown._abandoned, "held until it ends, not garbage-collected"
    release.set()
    await asyncio.sleep(0.01)
    assert not teardown._abandoned


async def test_a_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise OSError("transport gone")

    assert await teardown.bounded(fail(), "hanging up", seconds=5)
    assert "hanging up failed: OSError: transport gone" in caplog.text


async def test_a_cancelled_caller_leaves_the_work_running() -> None:
    finished = asyncio.Event()

    async def slow_close() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    caller = asyncio.create_task(teardown.bounded(slow_close(), "a slow close", seconds=5))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.wait_for(finished.wait(), 5)
