"""Deleting a user's data: one ended conversation, or the account and everything in it.

A room still owed its deletion (the sweeper would retry it) is deleted first: once the record
is gone nothing would remember the room.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.enums import LIVE_STATUSES
from src.models.conversation import Conversation
from src.models.user import User
from src.rooms.base import RoomProviderError
from src.services.conversations.end import end_conversation
from src.services.conversations.errors import ConversationStillLive, RoomNotYetDeleted
from src.services.conversations.start import ConversationServices

logger = logging.getLogger(__name__)


async def delete_conversation(
    session: AsyncSession, conversation: Conversation, services: ConversationServices
) -> None:
    """Delete an ended conversation.

    Raises:
        ConversationStillLive: it has not ended.
        RoomNotYetDeleted: its room is still owed a deletion that failed again.
    """
    if conversation.is_live:
        raise ConversationStillLive()
    await _delete_owed_room(conversation, services)
    await session.delete(conversation)
    logger.info("conversation %s: deleted by its user", conversation.id)


async def delete_account(session: AsyncSession, user: User, services: ConversationServices) -> None:
    """End the user's live conversations (bots stop, rooms go after the commit), then delete
    the account and all of its data; its tokens stop working with it.

    Raises:
        RoomNotYetDeleted: a room of an ended conversation could not be deleted.
    """
    conversations = (
        await session.scalars(
            select(Conversation).where(Conversation.user_id == user.id).with_for_update()
        )
    ).all()
    for conversation in conversations:
        if conversation.status in LIVE_STATUSES:
            await end_conversation(session, conversation, services)
        else:
            await _delete_owed_room(conversation, services)
    user_id: uuid.UUID = user.id
    # The database cascades to conversations and idempotency keys (ON DELETE CASCADE).
    await session.execute(delete(User).where(User.id == user_id))
    logger.info("user %s: account deleted with %d conversations", user_id, len(conversations))


async def _delete_owed_room(conversation: Conversation, services: ConversationServices) -> None:
    if conversation.daily_room_id is None or conversation.room_deleted_at is not None:
        return
    try:
        await services.rooms.delete_room(conversation.daily_room_id)
    except RoomProviderError as exc:
        logger.error(
            "conversation %s: room %s still not deleted: %s",
            conversation.id,
            conversation.daily_room_id,
            exc.detail,
        )
        raise RoomNotYetDeleted() from exc
