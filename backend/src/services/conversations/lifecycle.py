"""Recording a conversation's life: bot ready, user joined, ended (exactly once), room deleted.

Each step is a short transaction of its own, so the runner can record from any task.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from src.core import metrics
from src.core.clock import utcnow
from src.core.database import Database
from src.core.enums import LIVE_STATUSES, ConversationStatus, EndReason
from src.models.conversation import EMBEDDED_OWNER_PREFIX, Conversation
from src.models.idempotency import IdempotencyKey
from src.models.webhook import WebhookEventType
from src.rooms.base import RoomProvider, RoomProviderError
from src.services.conversations import transcript
from src.services.webhooks import outbox

logger = logging.getLogger(__name__)


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

    async def finish(self, conversation_id: uuid.UUID, reason: EndReason) -> bool:
        """End a live conversation and delete its room; False if it had already ended."""
        async with self._database.sessionmaker.begin() as session:
            conversation = await session.get(Conversation, conversation_id, with_for_update=True)
            if conversation is None or not conversation.is_live:
                return False
            conversation.end(reason, topics=await transcript.topics(session, conversation_id))
            await outbox.emit(session, conversation, WebhookEventType.ENDED)
            room_name = conversation.daily_room_id
        metrics.conversation_ended(reason.value)
        log = logger.error if conversation.status == ConversationStatus.FAILED else logger.info
        log(
            "conversation %s: ended (%s) after %ss",
            conversation_id,
            reason.value,
            conversation.duration_seconds,
        )
        if room_name:
            await self.delete_room(conversation_id, room_name)
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

    async def reconcile_after_restart(self) -> int:
        """End the conversations a previous embedded process left live (`server_restart`).

        Only those whose bot ran in an embedded process (or never started): a worker's
        conversations are ended by worker liveness (`WorkerReaper`), never by a restart.
        """
        async with self._database.sessionmaker() as session:
            ids = (
                await session.scalars(
                    select(Conversation.id).where(
                        Conversation.status.in_(LIVE_STATUSES),
                        or_(
                            Conversation.worker_id.is_(None),
                            Conversation.worker_id.startswith(EMBEDDED_OWNER_PREFIX),
                        ),
                    )
                )
            ).all()
        ended = [cid for cid in ids if await self.finish(cid, EndReason.SERVER_RESTART)]
        if ended:
            logger.warning("ended %d conversations left live by a previous process", len(ended))
        return len(ended)

    async def ended_among(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, EndReason]:
        """Which of these conversations have ended, with their end reasons."""
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.end_reason).where(
                    Conversation.id.in_(ids), Conversation.status.not_in(LIVE_STATUSES)
                )
            )
        return {cid: EndReason(reason or EndReason.USER_ENDED) for cid, reason in rows}

    async def live_owners(self) -> dict[str, list[uuid.UUID]]:
        """The live conversations of each worker process that runs bots."""
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(Conversation.worker_id, Conversation.id).where(
                    Conversation.status.in_(LIVE_STATUSES),
                    Conversation.worker_id.is_not(None),
                    Conversation.worker_id.not_like(f"{EMBEDDED_OWNER_PREFIX}%"),
                )
            )
        owners: dict[str, list[uuid.UUID]] = {}
        for worker_id, conversation_id in rows:
            owners.setdefault(str(worker_id), []).append(conversation_id)
        return owners

    async def unclaimed_since(self, cutoff: datetime) -> list[uuid.UUID]:
        """Live conversations started before `cutoff` that no process has claimed."""
        async with self._database.sessionmaker() as session:
            ids = await session.scalars(
                select(Conversation.id).where(
                    Conversation.status.in_(LIVE_STATUSES),
                    Conversation.worker_id.is_(None),
                    Conversation.started_at < cutoff,
                )
            )
        return list(ids)

    async def sweep(self, idempotency_ttl_seconds: int, min_age_seconds: float = 30.0) -> int:
        """Retry room deletions still owed by ended conversations; drop stale idempotency keys."""
        async with self._database.sessionmaker.begin() as session:
            rows = (
                await session.execute(
                    select(Conversation.id, Conversation.daily_room_id).where(
                        Conversation.status.not_in(LIVE_STATUSES),
                        Conversation.daily_room_id.is_not(None),
                        Conversation.room_deleted_at.is_(None),
                        # Leave just-ended ones to the path that is deleting their room now.
                        Conversation.ended_at <= utcnow() - timedelta(seconds=min_age_seconds),
                    )
                )
            ).all()
            cutoff = utcnow() - timedelta(seconds=idempotency_ttl_seconds)
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
        deleted = 0
        for conversation_id, room_name in rows:
            deleted += await self.delete_room(conversation_id, str(room_name))
        return deleted
