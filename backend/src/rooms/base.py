"""The room provider interface: where the user and the bot meet (Daily.co or a local room).

Each provider is one package below this one (`rooms.local`, `rooms.daily`), the way pipecat's
runner picks a transport per provider: the bot gets a ready `BotTransport` and never asks which
room it is in. Nothing here knows a conversation or a bot beyond the `RoomJob` it joins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from src.core.errors import DomainError, NotFound

ProviderName = Literal["local", "daily"]
RoomRole = Literal["user", "bot"]


class RoomJob(Protocol):
    """What a room needs to know of the bot that joins it (a `contract.bot.BotJob` is one).

    Attributes:
        conversation_id: The conversation the room serves (named in log lines).
        provider: Which provider made the room.
        room_name: The provider's room name.
        room_url: The room's URL (Daily: what the bot joins).
        bot_token: The bot's join token for that room.
        expires_at: When the room and its tokens expire.
    """

    @property
    def conversation_id(self) -> uuid.UUID: ...
    @property
    def provider(self) -> ProviderName: ...
    @property
    def room_name(self) -> str: ...
    @property
    def room_url(self) -> str: ...
    @property
    def bot_token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class RoomJoinError(Exception):
    """The bot's transport could not join its room (refused, or no answer in time)."""


class RoomTokenError(Exception):
    """A room token that is invalid, expired, or not for this room and role."""


class OfferRejected(DomainError):
    """The WebRTC handler refused an offer (for example a second connection to the room)."""

    status_code = 400
    code = "offer_rejected"
    default_detail = "The room refused this WebRTC offer."


# Candidates one connection may be given, in its offer and trickled together (a browser
# gathers a handful per network interface and server).
MAX_CANDIDATES_PER_CONNECTION = 32


class TooManyCandidates(DomainError):
    """More ICE candidates for one connection than any client gathers."""

    status_code = 400
    code = "too_many_candidates"
    default_detail = (
        f"At most {MAX_CANDIDATES_PER_CONNECTION} ICE candidates are taken per connection."
    )


class PeerConnectionNotFound(NotFound):
    """ICE candidates for a connection this room does not have."""

    code = "peer_connection_not_found"
    default_detail = "No WebRTC connection with this pc_id exists in this room: send an offer."


class ConversationGone(DomainError):
    """The conversation (or its room) has ended; its room can no longer be joined."""

    status_code = 410
    code = "conversation_ended"
    default_detail = "This conversation has ended. Start a new one."


class SpeechControl(Protocol):
    """The bot's outgoing speech, held back or cut at the user's side, at once (barge-in), where
    a transport can: what it has queued to send, not what pipecat still holds."""

    def hold(self) -> None:
        """Send nothing for now, keeping what is queued (the user may be speaking over it)."""
        ...

    def resume(self) -> None:
        """Send what `hold` kept, from where it stopped."""
        ...

    def cut(self) -> None:
        """Drop what is queued and unsent (the user barged in), and send again."""
        ...


class BotTransport(Protocol):
    """The bot's way into its room, made by the room provider (pipecat's `create_transport`).

    Attributes:
        joined_event: The pipecat transport event that means the user's media connected.
        left_event: The pipecat transport event that means the user left.
        rejoined_event: The pipecat transport event that means the user connected again.
        media_ready_on_join: The user's media path is up when `joined_event` fires.
    """

    joined_event: str
    left_event: str
    rejoined_event: str
    # Whether audio sent once the user joined is heard from its first word (the bot may greet
    # at once); otherwise the bot waits for the user's audio, or a short fallback.
    media_ready_on_join: bool

    @property
    def speech(self) -> SpeechControl | None:
        """Holds or cuts the bot's queued speech at once (None: the transport cannot; a
        barge-in then stops the bot through pipecat's interruption alone)."""
        ...

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


# The errors signalling can answer, by code: a worker sends the code back to the API.
SIGNALLING_ERRORS: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (ConversationGone, OfferRejected, PeerConnectionNotFound, TooManyCandidates)
}


class Signalling(Protocol):
    """What a provider offers whose rooms this app serves itself: the user's WebRTC signalling
    reaches the room's media in the process that runs its bot (local rooms; Daily does its own).
    """

    def verify_grant(
        self, token: str, room_name: str, role: RoomRole
    ) -> tuple[uuid.UUID, datetime]:
        """The conversation id and the expiry (the room's) of a valid token for this room and role.

        Raises:
            RoomTokenError: invalid, expired, for another room or another role.
        """
        ...

    async def answer_offer(self, name: str, offer: dict[str, Any]) -> dict[str, Any]:
        """Answer the user's SDP offer to a room whose media is here; the connection goes to
        the room's bot.

        Raises:
            ConversationGone: no such room here (ended, or its bot is elsewhere).
            OfferRejected: the room refused the offer.
        """
        ...

    async def add_candidates(self, name: str, patch: dict[str, Any]) -> None:
        """Add trickled ICE candidates to a connection of a room whose media is here.

        Raises:
            ConversationGone: no such room here.
            PeerConnectionNotFound: the room has no connection with that pc_id.
        """
        ...

    def room_names(self) -> set[str]:
        """The names of the rooms whose media is open in this process."""
        ...


class RoomProvider(Protocol):
    """Creates and deletes rooms. Implementations: `LocalRoomProvider`, `DailyRoomProvider`."""

    name: ClassVar[ProviderName]
    # Whether the user's page connects with this app's STUN/TURN servers (ICE_SERVERS, TURN_*):
    # rooms whose media this app serves; a provider's own client (Daily's) brings its own.
    uses_our_ice_servers: ClassVar[bool]

    @property
    def signalling(self) -> Signalling | None:
        """The provider's signalling, if the user's WebRTC signalling comes through this app
        (None: the provider's own service does it)."""
        ...

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

    def bot_transport(self, job: RoomJob) -> BotTransport:
        """The bot's transport into the job's room, from the process that runs the bot."""
        ...

    async def close(self) -> None:
        """Release what the provider holds (HTTP clients, connections)."""
        ...


def room_name_for(conversation_id: uuid.UUID) -> str:
    """The room name derived from a conversation id."""
    return f"conv-{conversation_id.hex}"
