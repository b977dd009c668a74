"""Joining a live conversation again (a reload, a dropped network): a new token for its room.

The bot keeps the conversation going meanwhile: a user whose connection was lost without a
goodbye or Leave has REJOIN_GRACE_SECONDS to come back before it ends (`user_left`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from src.core.clock import as_utc
from src.core.enums import ConversationStatus
from src.models.conversation import Conversation
from src.models.user import User
from src.schemas.conversation import StartConversationResponse
from src.services.conversations.errors import ConversationAlreadyEnded
from src.services.conversations.start import ConversationServices, join_answer

logger = logging.getLogger(__name__)


async def join_conversation(
    conversation: Conversation, user: User, services: ConversationServices
) -> StartConversationResponse:
    """The room and a new user token for a live conversation, like the start's answer.

    Raises:
        ConversationAlreadyEnded: it has ended.
        RoomProviderError: the room provider could not make the token.
    """
    if not conversation.is_live or conversation.daily_room_id is None:
        raise ConversationAlreadyEnded()
    # The room (and so every token for it) expires ROOM_TTL_SECONDS after it was made, which
    # is just after the conversation started.
    expires_at = as_utc(conversation.started_at) + timedelta(
        seconds=services.settings.room_ttl_seconds
    )
    access = await services.rooms.user_access(
        conversation.id,
        conversation.daily_room_id,
        user_name=user.first_name,
        expires_at=expires_at,
    )
    logger.info("conversation %s: rejoin token issued", conversation.id)
    return join_answer(
        services.settings,
        services.rooms,
        conversation.id,
        access.url,
        access.user_token,
        ConversationStatus(conversation.status),
        expires_at,
    )
