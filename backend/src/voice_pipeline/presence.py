"""The user's comings and goings during one bot's life: joined, lost, back again, gone.

A connection lost without a goodbye or Leave (the transport reports the user left, or the
page's pings stop) does not end the conversation at once: the user has REJOIN_GRACE_SECONDS to
connect again (`POST /conversations/{id}/join`), and the same pipeline, with its context and
dialogue state, carries on and welcomes them back. When the grace runs out the bot stops and
returns `user_left` to the runner, which ends the conversation as for any other end. An explicit
end (goodbye, Leave, the end request) never waits: it stops the bot directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from src.contract.bot import BotContext

logger = logging.getLogger(__name__)

# After a rejoin, the welcome back waits this long for the new media path to be up, where the
# transport reports the user connected before their media is (Daily: sent at once, its first
# words could be lost, as the greeting's were). A local room's connection is connected once
# ICE and DTLS are, its media up (`media_ready_on_join`): no wait, as for the greeting.
WELCOME_BACK_DELAY_SECONDS = 1.0

Callback = Callable[[], Awaitable[None]]


class Presence:
    """Tracks whether the user is connected and decides what each change means.

    Args:
        ctx: The bot's context (its transport, settings, conversation).
        transport: The running pipecat transport.
        first: Called on the user's first connection (greet, record the join).
        back: Called on each later connection (welcome back).
        gone: Called when the grace after a lost connection runs out (stop the bot).
    """

    def __init__(
        self, ctx: BotContext, transport: Any, *, first: Callback, back: Callback, gone: Callback
    ) -> None:
        self._ctx = ctx
        self._transport = transport
        self._first, self._back, self._gone = first, back, gone
        self._present = asyncio.Event()
        self._ever_joined = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._grace: asyncio.Task[None] | None = None
        events = {ctx.transport.joined_event, ctx.transport.rejoined_event}
        for event in events:
            transport.event_handler(event)(self._connected)
        transport.event_handler(ctx.transport.left_event)(self._left)

    def start(self) -> None:
        """Watch the user's pings and take their later connections."""
        self._spawn(self._watch())
        self._spawn(self._ctx.transport.take_rejoins(self._transport))

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._log_failure)
        return task

    def _log_failure(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "conversation %s: presence task failed: %r",
                self._ctx.conversation_id,
                task.exception(),
            )

    async def _connected(self, *_args: Any) -> None:
        if self._present.is_set():
            return  # Daily reports the first join twice (first participant, participant)
        self._present.set()
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if not self._ever_joined:
            self._ever_joined = True
            await self._first()
            return
        logger.info("conversation %s: the user rejoined", self._ctx.conversation_id)
        self._spawn(self._welcome_back())

    async def _welcome_back(self) -> None:
        if not self._ctx.transport.media_ready_on_join:
            await asyncio.sleep(WELCOME_BACK_DELAY_SECONDS)
        if self._present.is_set():
            await self._back()

    async def _left(self, *_args: Any) -> None:
        self._lost("the user left")

    def _lost(self, why: str) -> None:
        if not self._present.is_set():
            return
        self._present.clear()
        grace = self._ctx.settings.rejoin_grace_seconds
        logger.info(
            "conversation %s: %s, waiting %.0fs for a rejoin", self._ctx.conversation_id, why, grace
        )
        self._grace = self._spawn(self._expire(grace))

    async def _expire(self, grace: float) -> None:
        await asyncio.sleep(grace)
        logger.info("conversation %s: the user did not come back", self._ctx.conversation_id)
        await self._gone()

    async def _watch(self) -> None:
        timeout = self._ctx.settings.bot_idle_timeout_seconds
        while True:
            await self._present.wait()
            await self._ctx.transport.gone(timeout)
            if self._present.is_set():
                self._lost(f"no sign of the user for {timeout:.0f}s")
                # Frees the room for the user's next offer.
                await self._ctx.transport.drop_user()

    async def close(self) -> None:
        """Stop watching (the bot is ending)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
