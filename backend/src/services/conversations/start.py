"""Starting a conversation: limits, the record, the room, and the bot after the commit.

Nothing is left half-made: a room that cannot be made leaves a `failed`/`room_error` record and
no room; a bot that cannot join the room leaves a `failed`/`room_error` record and its room
deleted (502 `room_join_failed`); a bot that cannot start leaves a `failed`/`bot_error` record
and its room deleted; a call no worker takes leaves a `failed`/`no_bot_capacity` record and its
room deleted. The user is told what happened, the log what to check.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.contract.bot import BotJob, BotServiceUnavailable, NoBotCapacity
from src.core import metrics
from src.core.clock import utcnow
from src.core.database import FailureRecord, after_commit, after_rollback
from src.core.enums import ConversationStatus, EndReason
from src.core.errors import DomainError
from src.core.settings import Settings
from src.models.conversation import Conversation
from src.models.idempotency import IdempotencyKey
from src.models.user import User
from src.models.webhook import WebhookEventType
from src.rooms.base import Room, RoomProvider, RoomProviderError
from src.schemas.conversation import StartConversationResponse
from src.services.bots.dispatch import Bots
from src.services.bots.errors import BotJoinFailed, BotStartError
from src.services.conversations import idempotency, memory, queries
from src.services.conversations.errors import (
    ConversationStartFailed,
    RoomJoinFailed,
    TooManyConversations,
)
from src.services.conversations.lifecycle import ConversationLifecycle
from src.services.ice import ice_servers_for
from src.services.webhooks import outbox

logger = logging.getLogger(__name__)


@dataclass
class ConversationServices:
    """What conversations need besides the database: rooms, bots and the lifecycle."""

    settings: Settings
    rooms: RoomProvider
    bots: Bots
    lifecycle: ConversationLifecycle


async def start_conversation(
    session: AsyncSession,
    user: User,
    services: ConversationServices,
    idempotency_key: str | None = None,
) -> StartConversationResponse:
    """Start a conversation for the user; see the module docstring for the guarantees."""
    began = time.monotonic()
    try:
        return await _start(session, user, services, idempotency_key, began)
    except DomainError as exc:
        # Before the commit, the only start failure is the room's (the bot's come after it).
        failed_room = isinstance(exc, ConversationStartFailed)
        metrics.conversation_started(EndReason.ROOM_ERROR.value if failed_room else exc.code)
        raise


async def _start(
    session: AsyncSession,
    user: User,
    services: ConversationServices,
    idempotency_key: str | None,
    began: float,
) -> StartConversationResponse:
    key_row = None
    if idempotency_key is not None:
        key_row, replay = await idempotency.claim(
            session, user.id, idempotency_key, services.settings.idempotency_ttl_seconds
        )
        if replay is not None:
            logger.info("idempotent replay of conversation %s", replay.get("conversation_id"))
            return await _replayed(session, replay, services)
    await _check_user_limit(session, user, services.settings)
    slot = await services.bots.reserve()
    after_rollback(session, slot.release_async)

    conversation = Conversation(user_id=user.id, status=ConversationStatus.STARTING)
    session.add(conversation)
    await session.flush()
    logger.info("conversation %s: created for user %s", conversation.id, user.id)

    room = await _create_room(conversation, user, services)
    after_rollback(
        session, lambda: services.lifecycle.delete_room(conversation.id, room.name, stored=False)
    )
    conversation.daily_room_id = room.name
    conversation.status = ConversationStatus.WAITING_FOR_USER
    await session.flush()
    # `conversation.started` is this commit: the record and its room exist.
    await outbox.emit(session, conversation, WebhookEventType.STARTED)

    job = BotJob(
        conversation_id=conversation.id,
        provider=room.provider,
        room_name=room.name,
        room_url=room.url,
        bot_token=room.bot_token,
        expires_at=room.expires_at,
        user_full_name=user.full_name,
        user_first_name=user.first_name,
        birth_date=user.birth_date,
        memory=await memory.recall(session, user),
    )

    async def start_bot() -> None:
        try:
            await services.bots.start(job, slot)
        except (BotStartError, NoBotCapacity, BotServiceUnavailable) as exc:
            await _bot_failed(session, conversation.id, key_row, services, exc)
        metrics.conversation_started("started", time.monotonic() - began)

    after_commit(session, start_bot)
    response = join_answer(
        services.settings,
        services.rooms,
        conversation.id,
        room.url,
        room.user_token,
        ConversationStatus.WAITING_FOR_USER,
        room.expires_at,
    )
    if key_row is not None:
        # The TURN credentials are not stored: a replay gets its own (as a rejoin does).
        key_row.response = response.model_dump(mode="json", exclude={"ice_servers"})
    return response


async def _replayed(
    session: AsyncSession, stored: dict[str, Any], services: ConversationServices
) -> StartConversationResponse:
    """The remembered answer of a start, with ICE servers (and TURN credentials, while the
    conversation is live) made anew."""
    answer = StartConversationResponse.model_validate({**stored, "ice_servers": []})
    conversation = await session.get(Conversation, answer.conversation_id)
    answer.ice_servers = ice_servers_for(
        services.settings,
        services.rooms,
        answer.conversation_id,
        answer.expires_at,
        live=conversation is not None and conversation.is_live,
    )
    return answer


def join_answer(
    settings: Settings,
    provider: RoomProvider,
    conversation_id: uuid.UUID,
    room_url: str,
    user_token: str,
    status: ConversationStatus,
    expires_at: datetime,
) -> StartConversationResponse:
    """The answer of a start and of a rejoin: the room to join, the user's token for it and
    the ICE servers (TURN credentials of its own) to reach it with."""
    return StartConversationResponse(
        conversation_id=conversation_id,
        daily_room_url=room_url,
        daily_token=user_token,
        status=status,
        expires_at=expires_at,
        ice_servers=ice_servers_for(settings, provider, conversation_id, expires_at),
    )


async def _check_user_limit(session: AsyncSession, user: User, settings: Settings) -> None:
    # Lock the user's row so two concurrent starts of one user count one after the other.
    await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    limit = settings.max_active_conversations_per_user
    if await queries.count_live(session, user.id) >= limit:
        raise TooManyConversations(
            f"You already have {limit} conversations open: end one before starting another."
        )


async def _create_room(
    conversation: Conversation, user: User, services: ConversationServices
) -> Room:
    try:
        room = await services.rooms.create_room(conversation.id, user_name=user.first_name)
    except RoomProviderError as exc:
        logger.error("conversation %s: room not created: %s", conversation.id, exc.detail)
        # The detail says what to check (DAILY_API_KEY, the network): the operator's business.
        error = ConversationStartFailed("The voice room could not be created. Please try again.")
        error.failure_record = _failed_record(conversation, EndReason.ROOM_ERROR, services)
        raise error from exc
    logger.info("conversation %s: room %s created (%s)", conversation.id, room.name, room.provider)
    return room


def _failed_record(
    conversation: Conversation, reason: EndReason, services: ConversationServices
) -> FailureRecord:
    """The failed conversation, written after the start's rollback: a room that could not be
    made leaves a record (and no room)."""
    conversation_id, user_id = conversation.id, conversation.user_id
    started_at = conversation.started_at or utcnow()

    async def record(session: AsyncSession) -> None:
        failed = Conversation(id=conversation_id, user_id=user_id, started_at=started_at)
        session.add(failed)
        # Never started (no conversation.started): its end is reported all the same.
        ended = await services.lifecycle.end_in(session, failed, reason)
        # It has no room; counted and logged here, as the record's transaction is not ours.
        await services.lifecycle.conclude(ended)

    return record


async def _bot_failed(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    key_row: IdempotencyKey | None,
    services: ConversationServices,
    exc: Exception,
) -> None:
    logger.error("conversation %s: bot not started: %s", conversation_id, exc)
    reason = EndReason.NO_BOT_CAPACITY if isinstance(exc, NoBotCapacity) else EndReason.BOT_ERROR
    if isinstance(exc, BotJoinFailed):
        reason = EndReason.ROOM_ERROR
    if isinstance(exc, BotServiceUnavailable):
        metrics.conversation_started(BotServiceUnavailable.code)
    else:
        metrics.conversation_started(reason.value)
    # The runner may have ended it already (bot_error) and deleted the room; make sure of both.
    await services.lifecycle.finish(conversation_id, reason)
    if key_row is not None:
        # Only successful starts are replayed: a retry with the same key may start afresh.
        async with session.begin():
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_row.id))
    if isinstance(exc, NoBotCapacity | BotServiceUnavailable):
        raise exc
    if isinstance(exc, BotJoinFailed):
        raise RoomJoinFailed() from exc
    raise ConversationStartFailed(
        "The voice bot could not be started, so the conversation was closed. Please try again."
    ) from exc
