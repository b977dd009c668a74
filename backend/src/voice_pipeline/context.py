"""What the runner hands a bot: its conversation, room, user, and a way to report back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from src.core.settings import Settings
from src.models.conversation import EndReason
from src.services.rooms import Room


class BotEvents(Protocol):
    """Callbacks a bot uses to report its life to the runner (which records them)."""

    async def ready(self) -> None:
        """The bot is built and waiting for the user (records `bot_ready_at`)."""
        ...

    async def user_joined(self) -> None:
        """The user's media connected (records `user_joined_at`, status `active`)."""
        ...


@dataclass
class BotContext:
    """Everything one bot needs; nothing in it is shared with another bot.

    Attributes:
        conversation_id: The conversation this bot serves.
        user_full_name: The user's full name (for numerology).
        user_first_name: The name the bot greets.
        birth_date: The user's birth date (for numerology).
        room: The room to join.
        bot_token: The bot's join token for that room.
        settings: The app settings.
        events: Where the bot reports readiness and the user's arrival.
        connections: Local rooms only: each WebRTC connection (pipecat
            ``SmallWebRTCConnection``) made by the user's offers arrives here.
    """

    conversation_id: uuid.UUID
    user_full_name: str
    user_first_name: str
    birth_date: date
    room: Room
    bot_token: str
    settings: Settings
    events: BotEvents
    connections: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


# A bot: runs until the conversation is over and returns why (`user_left`, `user_ended`).
# It raises on failure; it is cancelled for timeouts, an ended conversation and shutdown.
RunBot = Callable[[BotContext], Awaitable[EndReason]]
