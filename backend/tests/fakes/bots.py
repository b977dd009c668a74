"""A scripted stand-in for the voice bot, driven through the runner's real connection path."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from src.contract.bot import BotContext
from src.core.enums import EndReason, MessageRole

JOIN, LEAVE, CRASH, GOODBYE = "join", "leave", "crash", "goodbye"
# ("said", role, text[, kinds]): the bot reports a transcript line (telling about those kinds).
SAID = "said"


class ScriptedBot:
    """A `run_bot` whose steps are commands put on the conversation's connection queue (a
    local room's, where the user's WebRTC connections arrive; its own inbox for Daily rooms).

    Anything that is not a command (a real WebRTC connection) counts as the user joining.
    """

    def __init__(self, *, fail_on_start: bool = False, never_ready: bool = False) -> None:
        self.fail_on_start = fail_on_start
        self.never_ready = never_ready
        self.contexts: dict[uuid.UUID, BotContext] = {}
        self.connections: dict[uuid.UUID, list[Any]] = {}
        self.cancelled: set[uuid.UUID] = set()
        self._inboxes: dict[uuid.UUID, asyncio.Queue[Any]] = {}

    def inbox(self, conversation_id: uuid.UUID) -> asyncio.Queue[Any]:
        """Where the conversation's bot takes its commands from."""
        ctx = self.contexts[conversation_id]
        queue: asyncio.Queue[Any] | None = getattr(ctx.transport, "connections", None)
        if queue is None:
            queue = self._inboxes.setdefault(conversation_id, asyncio.Queue())
        return queue

    async def __call__(self, ctx: BotContext) -> EndReason:
        self.contexts[ctx.conversation_id] = ctx
        if self.fail_on_start:
            raise RuntimeError("the speech models are missing")
        try:
            if self.never_ready:
                await asyncio.Event().wait()
            await ctx.events.ready()
            return await self._serve(ctx)
        except asyncio.CancelledError:
            self.cancelled.add(ctx.conversation_id)
            raise

    async def _serve(self, ctx: BotContext) -> EndReason:
        while True:
            item = await self.inbox(ctx.conversation_id).get()
            if item == CRASH:
                raise RuntimeError("the pipeline broke mid-call")
            if item == LEAVE:
                return EndReason.USER_LEFT
            if item == GOODBYE:
                return EndReason.USER_ENDED
            if isinstance(item, tuple) and item[0] == SAID:
                # (SAID, role, text[, kinds[, interrupted]])
                kinds = tuple(item[3]) if len(item) > 3 else ()
                interrupted = bool(item[4]) if len(item) > 4 else False
                ctx.events.said(MessageRole(item[1]), item[2], kinds, interrupted=interrupted)
                continue
            self.connections.setdefault(ctx.conversation_id, []).append(item)
            await ctx.events.user_joined()
