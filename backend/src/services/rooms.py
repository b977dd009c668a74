"""The room provider interface: where the user and the bot meet (Daily.co or a local room)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from src.core.errors import DomainError
from src.core.settings import Settings
from src.voice_pipeline.job import BotJob, BotTransport, ProviderName


@dataclass(frozen=True)
class Room:
    """A private room for one conversation.

    Attributes:
        name: The provider's room name (stored as the conversation's ``daily_room_id``).
        url: What the user opens to join.
        user_token: The user's join token (given to the client).
        bot_token: The bot's join token (never leaves the server).
        expires_at: When the room and both tokens expire.
        provider: Which provider made it.
    """

    name: str
    url: str
    user_token: str
    bot_token: str
    expires_at: datetime
    provider: ProviderName


@dataclass(frozen=True)
class RoomAccess:
    """What a user needs to join (again) an existing room: its URL and a new user token."""

    url: str
    user_token: str


class RoomProviderError(DomainError):
    """The room provider failed; the message says what failed and what to check."""

    status_code = 500
    code = "room_provider_error"
    default_detail = "The room service failed. Please try again."
    # The provider's own HTTP status, when it answered with an error.
    upstream_status: int | None = None


class RoomProvider(Protocol):
    """Creates and deletes rooms. Implementations: `LocalRoomProvider`, `DailyRoomProvider`."""

    name: ClassVar[ProviderName]

    async def create_room(self, conversation_id: uuid.UUID, *, user_name: str) -> Room:
        """Create a private room for the conversation, with a user token and a bot token.

        Raises:
            RoomProviderError: the room could not be made (nothing is left behind).
        """
        ...

    async def user_access(
        self, conversation_id: uuid.UUID, name: str, *, user_name: str, expires_at: datetime
    ) -> RoomAccess:
        """The room's URL and a new user token for it (a rejoin), valid until `expires_at`.

        Raises:
            RoomProviderError: the provider could not be reached or refused.
        """
        ...

    async def delete_room(self, name: str) -> None:
        """Delete a room; a room already gone counts as deleted.

        Raises:
            RoomProviderError: the provider could not be reached or refused.
        """
        ...

    def bot_transport(self, job: BotJob) -> BotTransport:
        """The bot's transport into the job's room, from the process that runs the bot."""
        ...

    async def close(self) -> None:
        """Release what the provider holds (HTTP clients, connections)."""
        ...


def room_name_for(conversation_id: uuid.UUID) -> str:
    """The room name derived from a conversation id."""
    return f"conv-{conversation_id.hex}"


def create_room_provider(settings: Settings) -> RoomProvider:
    """The provider ROOM_PROVIDER names."""
    if settings.room_provider == "daily":
        from src.services.daily_service import DailyRoomProvider

        return DailyRoomProvider(settings)
    from src.services.local_rooms import LocalRoomProvider

    return LocalRoomProvider(settings)
