"""The contract between conversations and bots: what a bot is given, and where it reports.

Both sides import this module and nothing of each other: `services.conversations` hands a
`BotJob` to the bot host (`services.bots`), which runs a `RunBot` with a `BotContext` and
records the bot's life through the `ConversationRecords` port that conversations implement.

`BotJob` is serialisable (it crosses Redis to a worker process as JSON); the live objects (the
transport, the event callbacks) are built inside the process that runs the bot.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Protocol

from src.core.enums import EndReason, MessageRole, MessageSource
from src.core.errors import DomainError
from src.core.settings import BotSettings
from src.rooms.base import BotTransport, ProviderName


@dataclass(frozen=True)
class PastConversation:
    """One of the user's earlier conversations, as the bot may recall it.

    Attributes:
        ended_at: When it ended.
        topics: The number kinds it discussed (`NumberKind` values), first-mentioned first.
    """

    ended_at: datetime
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Memory:
    """What the bot remembers of the user's earlier conversations (computed at the start).

    Attributes:
        past: The last few ended conversations, newest first (bounded by the services).
    """

    past: tuple[PastConversation, ...] = ()

    def to_plain(self) -> dict[str, Any]:
        """The memory as JSON values."""
        return {
            "past": [
                {"ended_at": p.ended_at.isoformat(), "topics": list(p.topics)} for p in self.past
            ]
        }

    @classmethod
    def from_plain(cls, values: dict[str, Any]) -> Memory:
        """A memory from `to_plain`'s output (raises KeyError, TypeError, ValueError)."""
        return cls(
            tuple(
                PastConversation(
                    datetime.fromisoformat(p["ended_at"]), tuple(str(t) for t in p["topics"])
                )
                for p in values["past"]
            )
        )


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
        memory: What the bot may recall of the user's earlier conversations; None when the
            user turned remembering off.
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
    memory: Memory | None = None

    def to_json(self) -> str:
        """The job as a JSON string."""
        values = asdict(self)
        values["conversation_id"] = str(self.conversation_id)
        values["expires_at"] = self.expires_at.isoformat()
        values["birth_date"] = self.birth_date.isoformat()
        values["memory"] = None if self.memory is None else self.memory.to_plain()
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
            memory = values.get("memory")
            values["memory"] = None if memory is None else Memory.from_plain(memory)
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a bot job: {exc}") from exc


class Said(Protocol):
    """Where a bot's line goes (`BotEvents.said`): the role, the text, the number kinds it
    tells about, how it came, and whether the user cut it short."""

    def __call__(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None: ...


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

    @property
    def said(self) -> Said:
        """Called when a line was spoken or typed (the transcript), telling about these number
        kinds; must not block. `interrupted`: a bot line the user spoke over, `text` being only
        what was said before the bot stopped. (A method `said(role, text, kinds, source,
        interrupted)` is one.)"""
        ...


@dataclass
class BotContext:
    """Everything one bot needs; nothing in it is shared with another bot.

    Attributes:
        job: The conversation, room and user.
        transport: The bot's way into the room.
        events: Where the bot reports readiness and the user's arrival.
        settings: The settings a bot reads (its services and its watch on the user), of the
            process running it: typed as that slice, so a bot reads nothing else.
    """

    job: BotJob
    transport: BotTransport
    events: BotEvents
    settings: BotSettings

    @property
    def conversation_id(self) -> uuid.UUID:
        """The conversation this bot serves."""
        return self.job.conversation_id


# A bot: runs until the conversation is over and returns why (`user_left`, `user_ended`).
# It raises on failure; it is cancelled for timeouts, an ended conversation and shutdown.
RunBot = Callable[[BotContext], Awaitable[EndReason]]


class ConversationRecords(Protocol):
    """Where the bot host records the life of the conversations it runs (the conversations
    service implements it: `ConversationLifecycle`), so bots never import conversations.

    A bot's end is recorded through the `Finish` the host is given (`Recovery.finish`: the
    lifecycle's end, kept and retried if the database is down); the sweep and the reaper live
    with the conversations (`services/conversations/recovery.py`)."""

    async def claim(self, conversation_id: uuid.UUID, owner_id: str) -> bool:
        """Record `owner_id` as the process running the conversation's bot; false if it is
        no longer live (or another process claimed it)."""
        ...

    async def mark_ready(self, conversation_id: uuid.UUID) -> bool:
        """Record the bot ready (waiting for the user); false if the conversation is over."""
        ...

    async def mark_joined(self, conversation_id: uuid.UUID) -> None:
        """Record the user's arrival (status `active`)."""
        ...


class TranscriptSink(Protocol):
    """Where the lines a bot hears and says are stored (`TranscriptWriter`)."""

    def add(
        self,
        conversation_id: uuid.UUID,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        """Queue a line said (or typed) now (never blocks)."""
        ...

    async def flush(self) -> int:
        """Write the queued lines; how many were written."""
        ...


class BotCapacityReached(DomainError):
    """This server runs as many bots as it can."""

    status_code = 503
    code = "bot_capacity_reached"
    default_detail = "All voice bots are busy right now. Please try again shortly."
    retry_after = 10


class NoBotCapacity(DomainError):
    """No worker took the call in time: every worker is full, busy or stopped."""

    status_code = 503
    code = "no_bot_capacity"
    default_detail = (
        "No voice bot is free to take your call right now, so the conversation was closed. "
        "Please try again shortly."
    )

    retry_after = 10


class BotServiceUnavailable(DomainError):
    """The service that runs bots (Redis, or the worker holding the call) does not answer."""

    status_code = 503
    code = "bot_service_unavailable"
    default_detail = (
        "The voice bot service cannot be reached just now, so nothing was started. "
        "Try again in a few seconds."
    )

    retry_after = 5
