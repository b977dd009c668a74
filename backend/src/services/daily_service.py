"""Story 3.4's room service: ``create_room(conversation_id)``, as the story calls it.

Rooms are made by the configured room provider (src/rooms: a local WebRTC room by default,
a Daily.co room with ROOM_PROVIDER=daily); this is the story's call shape over
`create_room_provider`. The app itself starts conversations through
services/conversations/start.py, which also records the room and starts its bot.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from src.core.settings import Settings, get_settings
from src.rooms import create_room_provider


class RoomData(TypedDict):
    """A new room, in the story's keys.

    Attributes:
        room_name: The provider's room name (stored as the conversation's `daily_room_id`).
        room_url: What the user opens to join.
        meeting_token: The user's join token.
        bot_token: The bot's join token (never given to a client).
        expires_at: When the room and both tokens expire.
    """

    room_name: str
    room_url: str
    meeting_token: str
    bot_token: str
    expires_at: datetime


async def create_room(
    conversation_id: str, *, user_name: str = "Guest", settings: Settings | None = None
) -> RoomData:
    """Create the private room of the conversation `conversation_id` (a UUID string).

    Raises:
        ValueError: `conversation_id` is not a UUID.
        RoomProviderError: the room could not be made (nothing is left behind).
    """
    provider = create_room_provider(settings or get_settings())
    try:
        room = await provider.create_room(uuid.UUID(conversation_id), user_name=user_name)
    finally:
        await provider.close()
    return RoomData(
        room_name=room.name,
        room_url=room.url,
        meeting_token=room.user_token,
        bot_token=room.bot_token,
        expires_at=room.expires_at,
    )
