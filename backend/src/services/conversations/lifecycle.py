"""Recording a conversation's life: bot ready, user joined, ended (exactly once), room deleted.

Each step is a short transaction of its own, so the runner can record from any task. A
conversation's end is written here once (`end_in`, then `conclude` after the commit) for all
who end one: the end request, a failed start and a bot's finish.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from src.core import metrics
from src.core.clock import utcnow
from src.core.database import Database
from src.core.enums import LIVE_STATUSES, ConversationStatus, EndReason
from src.models.conversation import Conversation
from src.models.webhook import WebhookEventType
from src.rooms.base import RoomProvider, RoomProviderError
from src.services.conversations import transcript
from src.services.webhooks import outbox

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ended:
    """A conversation's end as written, for what follows its commit."""

    conversation_id: uuid.UUID
    reason: EndReason
    room_name: str | None
    failed: bool
    duration_seconds: int | None


class ConversationLifecycle:
    """Writes lifecycle events of conversations and keeps rooms in step with them."""

    def __init__(self, database: Database, rooms: RoomProvider) -> None:
        self._database = database
        self._rooms = rooms

    async def claim(self, conversation_id: uuid.UUID, owner_id: str) -> bool:
        """Record which process runs the conversation's bot; False if it is no longer live or
        another process already claimed it."""
        async with self._database.sessionmaker.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.status.in_(LIVE_STATUSES),
                    or_(Conversation.worker_id.is_(None), Conversation.worker_id == owner_id),
                )
                .values(worker_id=owner_id, updated_at=utcnow())
            )
        return bool(getattr(result, "rowcount", 0))

    async def mark_ready(self, conversation_id: uuid.UUID) -> bool:
        """Record that the bot is ready for the user; False if the conversation has ended."""
        live = await self._update_live(conversation_id, bot_ready_at=utcnow())
        logger.info("conversation %s: bot ready", conversation_id)
        return live

    async def mark_joined(self, conversation_id: uuid.UUID) -> None:
        """Record that the user joined: the conversation becomes active."""
        async with self._database.sessionmaker.begin() as session:
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None or not conversation.is_live:
                return
            if conversation.status != ConversationStatus.ACTIVE:
                await outbox.emit(session, conversation, WebhookEventType.ACTIVE)
            conversation.status = ConversationStatus.ACTIVE
            conversation.user_joined_at = utcnow()
        logger.info("conversation %s: user joined", conversation_id)

    async def _update_live(self, conversation_id: uuid.UUID, **values: object) -> bool:
        async with self._database.sessionmaker.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.status.in_(LIVE_STATUSES))
                .values(**values, updated_at=utcnow())
            )
        return bool(getattr(result, "rowcount", 0))

    async def end_in(
        self, session: AsyncSession, conversation: Conversation, reason: EndReason
    ) -> Ended:
        """End a live conversation in the caller's transaction: the row (with the number kinds
        it discussed) and its `conversation.ended` event. `conclude` the result once committed.
        """
        conversation.end(reason, topics=await transcript.topics(session, conversation.id))
        await session.flush()
        await outbox.emit(session, conversation, WebhookEventType.ENDED)
        return Ended(
            conversation.id,
            reason,
            conversation.daily_room_id,
            conversation.status == ConversationStatus.FAILED,
            conversation.duration_seconds,
        )

    async def conclude(self, ended: Ended, *, delete_room: bool = True) -> None:
        """After an end is committed: count it, log it and delete its room (unless the bot's
        host deletes it: the room goes after the bot has left it)."""
        metrics.conversation_ended(ended.reason.value)
        log = logger.error if ended.failed else logger.info
        log(
            "conversation %s: ended (%s) after %ss",
            ended.conversation_id,
            ended.reason.value,
            ended.duration_seconds,
        )
        if delete_room and ended.room_name:
            await self.delete_room(ended.conversation_id, ended.room_name)

    async def finish(self, conversation_id: uuid.UUID, reason: EndReason) -> bool:
        """End a live conversation and delete its room; False if it had already ended.

        A conversation ended elsewhere while its bot ran (an end request) left its room to the
        bot's host: the room is deleted now, after the bot has left it.
        """
        async with self._database.sessionmaker.begin() as session:
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None:
                return False
            if not conversation.is_live:
                left = None if conversation.room_deleted_at else conversation.daily_room_id
                ended = None
            else:
                ended = await self.end_in(session, conversation, reason)
        if ended is None:
            if left:
                await self.delete_room(conversation_id, left)
            return False
        await self.conclude(ended)
        return True

    async def delete_room(
        self, conversation_id: uuid.UUID, room_name: str, *, stored: bool = True
    ) -> bool:
        """Delete the room and note it; a failure is logged and left for the sweeper.

        `stored=False` is for a start that rolled back: its conversation was never written, so
        there is no row to note the deletion on (and no sweeper will see the room: it is logged).
        """
        try:
            await self._rooms.delete_room(room_name)
        except RoomProviderError as exc:
            logger.error(
                "conversation %s: room %s not deleted, %s: %s",
                conversation_id,
                room_name,
                "will retry" if stored else "left behind by a rolled-back start",
                exc.detail,
            )
            return False
        if not stored:
            logger.info(
                "conversation %s: room %s deleted (start rolled back)", conversation_id, room_name
            )
            return True
        async with self._database.sessionmaker.begin() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(room_deleted_at=utcnow())
            )
        logger.info("conversation %s: room %s deleted", conversation_id, room_name)
        return True

    async def ended_among(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, EndReason]:
        """Which of these conversations have ended, with their end reasons."""
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.end_reason).where(
                    Conversation.id.in_(ids), Conversation.status.not_in(LIVE_STATUSES)
                )
            )
        return {cid: EndReason(reason or EndReason.USER_ENDED) for cid, reason in rows}
