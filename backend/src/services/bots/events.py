"""A running bot's record in its runner (`BotHandle`), and the events it reports (`RunnerEvents`):
its joining and the user's go to the conversation's records, its lines to the transcript."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from src.contract.bot import BotContext, ConversationRecords, TranscriptSink
from src.core.enums import EndReason, MessageRole, MessageSource
from src.services.bots.admission import Slot
from src.services.bots.errors import ConversationNoLongerLive


@dataclass
class BotHandle:
    """A bot its runner holds: its context and task, whether it was ready and the user joined,
    why it was stopped, what it failed with, and its admission slot."""

    ctx: BotContext
    task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    joined: bool = False
    cancel_reason: EndReason | None = None
    error: BaseException | None = None
    slot: Slot | None = None


class RunnerEvents:
    """The `BotEvents` a bot reports to: the database, and the runner's own state."""

    def __init__(
        self,
        handle: BotHandle,
        lifecycle: ConversationRecords,
        transcript: TranscriptSink | None,
    ) -> None:
        self._handle = handle
        self._lifecycle = lifecycle
        self._transcript = transcript

    async def ready(self) -> None:
        # Ready means in the room: the transport joins first (a local room has nothing to join).
        await self._handle.ctx.transport.join()
        # Recorded before the start request is released, so its answer finds bot_ready_at set.
        if not await self._lifecycle.mark_ready(self._handle.ctx.conversation_id):
            raise ConversationNoLongerLive()
        self._handle.ready.set()

    async def user_joined(self) -> None:
        self._handle.joined = True
        await self._lifecycle.mark_joined(self._handle.ctx.conversation_id)

    def said(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        if self._transcript is not None:
            self._transcript.add(
                self._handle.ctx.conversation_id, role, text, kinds, source, interrupted
            )


class NotAttached:
    """The events of a bot whose runner has not attached its own yet (a placeholder)."""

    async def ready(self) -> None:
        raise RuntimeError("the runner has not attached its events")

    async def user_joined(self) -> None:
        raise RuntimeError("the runner has not attached its events")

    def said(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        raise RuntimeError("the runner has not attached its events")


NOT_ATTACHED = NotAttached()
