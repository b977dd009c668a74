"""What a bot is given: a plain job description, a transport, and where to report its life.

`BotJob` is serialisable (it crosses Redis to a worker process as JSON); the live objects (the
transport, the event callbacks) are built inside the process that runs the bot.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from src.core.settings import Settings
from src.models.conversation import EndReason
from src.models.message import MessageRole

ProviderName = Literal["local", "daily"]


@dataclass(frozen=True)
class BotJob:
    """One conversation's bot, described in plain values.

    Attributes:
        conversation_id: The conversation this bot serves.
        provider: Which room provider made the room (chooses the transport).
        room_name: The provider's room name.
        room_url: The room's URL (Daily: what the bot joins).
        bot_token: The bot's join token for that room (never leaves the servers).
        expires_at: When the room and its tokens expire.
        user_full_name: The user's full name (for numerology).
        user_first_name: The name the bot greets.
        birth_date: The user's birth date (for numerology).
    """

    conversation_id: uuid.UUID
    provider: ProviderName
    room_name: str
    room_url: str
    bot_token: str
    expires_at: datetime
    user_full_name: str
    user_first_name: str
    birth_date: date

    def to_json(self) -> str:
        """The job as a JSON string."""
        values = asdict(self)
        values["conversation_id"] = str(self.conversation_id)
        values["expires_at"] = self.expires_at.isoformat()
        values["birth_date"] = self.birth_date.isoformat()
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str | bytes) -> BotJob:
        """A job from `to_json`'s output.

        Raises:
            ValueError: not a job (missing or malformed fields).
        """
        try:
            values: dict[str, Any] = json.loads(text)
            values["conversation_id"] = uuid.UUID(values["conversation_id"])
            values["expires_at"] = datetime.fromisoformat(values["expires_at"])
            values["birth_date"] = date.fromisoformat(values["birth_date"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a bot job: {exc}") from exc


class RoomJoinError(Exception):
    """The bot's transport could not join its room (refused, or no answer in time)."""


class BotEvents(Protocol):
    """Callbacks a bot uses to report its life (the runner records them)."""

    async def ready(self) -> None:
        """The bot is built: its transport joins the room, then `bot_ready_at` is recorded.

        Raises:
            RoomJoinError: the transport could not join the room.
        """
        ...

    async def user_joined(self) -> None:
        """The user's media connected (records `user_joined_at`, status `active`)."""
        ...

    def said(self, role: MessageRole, text: str, kinds: tuple[str, ...] = ()) -> None:
        """A line was spoken (the transcript), telling about these number kinds; must not
        block."""
        ...


class BotTransport(Protocol):
    """The bot's way into its room, made by the room provider (pipecat's `create_transport`).

    Attributes:
        joined_event: The pipecat transport event that means the user's media connected.
        left_event: The pipecat transport event that means the user left.
        rejoined_event: The pipecat transport event that means the user connected again.
    """

    joined_event: str
    left_event: str
    rejoined_event: str

    async def join(self) -> None:
        """Enter the room, before the bot reports ready (a local room has nothing to join).

        Raises:
            RoomJoinError: the room refused the bot, or did not answer in time.
        """
        ...

    async def open(self) -> Any:
        """The pipecat transport, once the user's media path can be set up (local rooms wait
        for the user's WebRTC offer)."""
        ...

    async def gone(self, idle_timeout: float) -> None:
        """Return once the user has silently vanished for `idle_timeout` seconds (never, for
        transports that report a vanished user themselves)."""
        ...

    async def take_rejoins(self, transport: Any) -> None:
        """Wire each later connection of the user into the running pipecat `transport` (a
        rejoin), until cancelled; transports whose room keeps the bot in it need do nothing."""
        ...

    async def drop_user(self) -> None:
        """Hang up the user's connection that went silent, so that a new one can be made."""
        ...

    async def close(self) -> None:
        """Hang up and release the room's media in this process (idempotent)."""
        ...


@dataclass
class BotContext:
    """Everything one bot needs; nothing in it is shared with another bot.

    Attributes:
        job: The conversation, room and user.
        transport: The bot's way into the room.
        events: Where the bot reports readiness and the user's arrival.
        settings: The settings of the process running the bot.
    """

    job: BotJob
    transport: BotTransport
    events: BotEvents
    settings: Settings

    @property
    def conversation_id(self) -> uuid.UUID:
        """The conversation this bot serves."""
        return self.job.conversation_id


# A bot: runs until the conversation is over and returns why (`user_left`, `user_ended`).
# It raises on failure; it is cancelled for timeouts, an ended conversation and shutdown.
RunBot = Callable[[BotContext], Awaitable[EndReason]]
