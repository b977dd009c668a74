"""Time limits on teardown: a close that hangs must not hold a bot, its slot or its room.

aiortc's `RTCPeerConnection.close()` waits forever once a first close of the same connection
was cancelled midway (its `__isClosed` future is then never resolved), and pipecat's teardown
awaits such closes; a Daily call client can hang leaving. Every close, disconnect and pipeline
teardown of a bot goes through `bounded`: it returns after at most its time limit, whatever the
work does, and says what it gave up on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

logger = logging.getLogger(__name__)

# One close or disconnect (a peer connection, a room's media, a pipeline's teardown). A healthy
# one takes milliseconds on loopback and a round trip or two on a network.
CLOSE_TIMEOUT_SECONDS = 3.0

# Work given up on, held until it ends (a task nobody holds can be garbage-collected midway).
_abandoned: set[asyncio.Future[Any]] = set()


async def bounded(
    work: Awaitable[Any], what: str, *, seconds: float = CLOSE_TIMEOUT_SECONDS
) -> bool:
    """Await `work` for at most `seconds`; whether it finished (its failure is logged, not raised).

    Work still running after `seconds` is cancelled and left to end by itself; the caller goes
    on at once (unlike `asyncio.wait_for`, which waits for the cancelled work to finish).
    """
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        # The caller was cancelled: the close goes on by itself, held until it ends.
        _hold(task)
        raise
    if not done:
        logger.error("%s did not finish within %.1f s: given up", what, seconds)
        _abandon(task)
        return False
    if not task.cancelled() and task.exception() is not None:
        logger.warning("%s failed: %s", what, _describe(task.exception()))
    return True


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    _hold(task)


def _hold(task: asyncio.Future[Any]) -> None:
    _abandoned.add(task)
    task.add_done_callback(_forget)


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("abandoned work ended with %s", _describe(task.exception()))


def _describe(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
