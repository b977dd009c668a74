"""Story 3.4's bot entry point: ``run_bot(room_url, token)``, as the story calls it.

The bot itself is src/voice_pipeline/bot.py (`bot.run_bot(ctx)`, a `contract.bot.RunBot`); the
app runs it through the bot host (services/bots), which records its life: ready, the user's
arrival, the transcript, the end. This entry point takes the story's two values, finds the
conversation whose room it is, gives the bot its transport from the room provider, and runs it
until the conversation is over. It records nothing but log lines. With local rooms the user's
offers reach the room through the app's own provider, so use it with Daily rooms, as the story
does.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from src.contract.bot import BotContext, BotJob
from src.core.database import Database
from src.core.enums import EndReason, MessageRole, MessageSource
from src.core.settings import Settings, get_settings
from src.models.conversation import Conversation
from src.rooms import create_room_provider
from src.rooms.base import BotTransport
from src.voice_pipeline import bot

logger = logging.getLogger(__name__)


class _LoggedEvents:
    """The bot's events, told to the log only (the bot host records them in the database)."""

    def __init__(self, job: BotJob, transport: BotTransport) -> None:
        self._job = job
        self._transport = transport

    async def ready(self) -> None:
        # Ready means in the room, as for the bot host: the transport joins first.
        await self._transport.join()
        logger.info("conversation %s: bot ready", self._job.conversation_id)

    async def user_joined(self) -> None:
        logger.info("conversation %s: the user joined", self._job.conversation_id)

    def said(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        """Nothing kept: the transcript is the bot host's."""


async def run_bot(room_url: str, token: str, *, settings: Settings | None = None) -> EndReason:
    """Serve the conversation whose room is at `room_url`, joining with the bot's `token`, until
    the user leaves or says goodbye; why it ended.

    Raises:
        LookupError: no conversation has the room at `room_url`.
        RoomJoinError: the bot could not join the room.
    """
    settings = settings or get_settings()
    job = await _job_for(room_url, token, settings)
    rooms = create_room_provider(settings)
    transport = rooms.bot_transport(job)
    logger.info(
        "conversation %s: Starting Pipecat bot for room: %s", job.conversation_id, job.room_name
    )
    try:
        return await bot.run_bot(
            BotContext(job, transport, _LoggedEvents(job, transport), settings.for_bot())
        )
    finally:
        await transport.close()
        await rooms.close()


async def _job_for(room_url: str, token: str, settings: Settings) -> BotJob:
    """The job of the conversation whose room is at `room_url` (its last path segment)."""
    name = room_url.rstrip("/").rsplit("/", 1)[-1]
    database = Database(settings.database_url, application_name="numerologist-bot")
    try:
        async with database.sessionmaker() as session:
            conversation = await session.scalar(
                select(Conversation)
                .where(Conversation.daily_room_id == name)
                .options(selectinload(Conversation.user))
            )
    finally:
        await database.dispose()
    if conversation is None:
        raise LookupError(f"No conversation has the room {name!r}: start one first.")
    user = conversation.user
    return BotJob(
        conversation_id=conversation.id,
        provider=settings.room_provider,
        room_name=name,
        room_url=room_url,
        bot_token=token,
        expires_at=conversation.started_at + timedelta(seconds=settings.room_ttl_seconds),
        user_full_name=user.full_name,
        user_first_name=user.first_name,
        birth_date=user.birth_date,
    )
