"""The embedded room provider: rooms served over WebRTC (pipecat's SmallWebRTC), no outside service.

A room has two halves. Its tokens (JWTs signed by the app, scoped to one room and one role) are
made by the API process that starts the conversation. Its media half (a WebRTC request handler
that answers the user's SDP offers, and the queue handing their connections to the bot) lives
in the process that runs the room's bot: the API itself in the embedded mode, a worker in the
worker mode, which then answers the offers the API forwards to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import jwt

from src.core.clock import utcnow
from src.core.errors import DomainError, NotFound
from src.core.security import ROOM_AUDIENCE, decode_token, encode_token
from src.core.settings import Settings
from src.core.teardown import bounded
from src.schemas.webrtc import MAX_CANDIDATES_PER_CONNECTION, TooManyCandidates
from src.services.conversations.errors import ConversationGone
from src.services.rooms import Room, RoomAccess, room_name_for
from src.voice_pipeline.job import BotJob, ProviderName

logger = logging.getLogger(__name__)

RoomRole = Literal["user", "bot"]

# pipecat's own connecting timer is set this much later than ours, so ours always closes first.
_PIPECAT_TIMER_MARGIN_SECONDS = 30.0


class RoomTokenError(Exception):
    """A room token that is invalid, expired, or not for this room and role."""


class OfferRejected(DomainError):
    """The WebRTC handler refused an offer (for example a second connection to the room)."""

    status_code = 400
    code = "offer_rejected"
    default_detail = "The room refused this WebRTC offer."


class PeerConnectionNotFound(NotFound):
    """ICE candidates for a connection this room does not have."""

    code = "peer_connection_not_found"
    default_detail = "No WebRTC connection with this pc_id exists in this room: send an offer."


# The errors signalling can answer, by code: a worker sends the code back to the API.
SIGNALLING_ERRORS: dict[str, type[DomainError]] = {
    cls.code: cls
    for cls in (ConversationGone, OfferRejected, PeerConnectionNotFound, TooManyCandidates)
}


@dataclass
class LocalRoom:
    """The media half of one live local room, in the process that runs its bot."""

    name: str
    conversation_id: uuid.UUID
    expires_at: datetime
    # pipecat's SmallWebRTCRequestHandler, one per room so peer ids never cross rooms.
    webrtc: Any = field(default=None, repr=False)
    # Each WebRTC connection made by the user's offers, for the bot.
    connections: asyncio.Queue[Any] = field(default_factory=asyncio.Queue, repr=False)
    # One per connection not yet connected: closes it if it does not connect in time.
    watchers: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    # Trickled ICE candidates taken, per connection (pc_id).
    candidates: dict[str, int] = field(default_factory=dict, repr=False)


class LocalRoomProvider:
    """Makes local rooms' tokens, and holds the media of the rooms whose bots run here."""

    name: ClassVar[ProviderName] = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._rooms: dict[str, LocalRoom] = {}

    async def create_room(self, conversation_id: uuid.UUID, *, user_name: str) -> Room:
        """Name a room and make its two tokens; it expires after ROOM_TTL_SECONDS."""
        name = room_name_for(conversation_id)
        expires_at = utcnow() + timedelta(seconds=self._settings.room_ttl_seconds)
        return Room(
            name=name,
            url=f"{self._settings.base_url}/rooms/{name}",
            user_token=self._token(conversation_id, name, "user", expires_at, user_name),
            bot_token=self._token(conversation_id, name, "bot", expires_at, "Numerologist"),
            expires_at=expires_at,
            provider=self.name,
        )

    async def user_access(
        self, conversation_id: uuid.UUID, name: str, *, user_name: str, expires_at: datetime
    ) -> RoomAccess:
        """The room's URL and a new user room token (a rejoin)."""
        return RoomAccess(
            url=f"{self._settings.base_url}/rooms/{name}",
            user_token=self._token(conversation_id, name, "user", expires_at, user_name),
        )

    def _token(
        self, conversation_id: uuid.UUID, room: str, role: RoomRole, exp: datetime, who: str
    ) -> str:
        claims = {"sub": str(conversation_id), "room": room, "role": role, "name": who}
        return encode_token(
            claims, secret=self._settings.jwt_secret, audience=ROOM_AUDIENCE, expires_at=exp
        )

    def verify_token(self, token: str, room_name: str, role: RoomRole) -> uuid.UUID:
        """The conversation id in a valid token for this room and role.

        Raises:
            RoomTokenError: invalid, expired, for another room or another role.
        """
        return self.verify_grant(token, room_name, role)[0]

    def verify_grant(
        self, token: str, room_name: str, role: RoomRole
    ) -> tuple[uuid.UUID, datetime]:
        """The conversation id and the expiry (the room's) of a valid token for this room and role.

        Raises:
            RoomTokenError: invalid, expired, for another room or another role.
        """
        try:
            claims = decode_token(token, secret=self._settings.jwt_secret, audience=ROOM_AUDIENCE)
        except jwt.ExpiredSignatureError:
            raise RoomTokenError("The room token has expired.") from None
        except jwt.InvalidTokenError:
            raise RoomTokenError("The room token is invalid.") from None
        if claims.get("room") != room_name or claims.get("role") != role:
            raise RoomTokenError("This token is not valid for this room.")
        try:
            return uuid.UUID(str(claims["sub"])), datetime.fromtimestamp(int(claims["exp"]), UTC)
        except ValueError:
            raise RoomTokenError("The room token is invalid.") from None

    def bot_transport(self, job: BotJob) -> LocalBotTransport:
        """Open the room's media here and give its bot a transport into it."""
        from pipecat.transports.smallwebrtc.connection import IceServer
        from pipecat.transports.smallwebrtc.request_handler import (
            ConnectionMode,
            SmallWebRTCRequestHandler,
        )

        # ICE_SERVERS only: the bot takes no TURN credentials of its own (services/ice.py).
        ice_servers = [
            IceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in self._settings.ice_servers
        ]
        handler = SmallWebRTCRequestHandler(
            ice_servers=ice_servers, connection_mode=ConnectionMode.SINGLE
        )
        room = LocalRoom(job.room_name, job.conversation_id, job.expires_at, handler)
        self._rooms[room.name] = room
        return LocalBotTransport(self, room)

    def get(self, name: str) -> LocalRoom | None:
        """A room whose media is here, or None (never existed here, deleted or expired)."""
        room = self._rooms.get(name)
        if room is None or room.expires_at <= utcnow():
            return None
        return room

    def room_names(self) -> set[str]:
        """The names of the rooms whose media is open in this process."""
        return set(self._rooms)

    async def answer_offer(self, name: str, offer: dict[str, Any]) -> dict[str, Any]:
        """Answer the user's SDP offer; a new connection goes to the room's bot.

        Raises:
            ConversationGone: no such room here (ended, or its bot is elsewhere).
            OfferRejected: the handler refused the offer.
        """
        from fastapi import HTTPException
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequest

        from src.voice_pipeline import media

        room = self._room(name)
        failed: list[tuple[Any, Exception]] = []

        async def hand_to_bot(connection: Any) -> None:
            # pipecat logs and swallows an error raised here, and keeps the connection (which
            # then refused every later offer): it is recorded and the connection closed below.
            try:
                # Before the connection is up: its receiver takes its decoder when it starts.
                media.decode_speech_at_16k(connection)
            except Exception as exc:
                failed.append((connection, exc))
                return
            self._watch_connecting(room, connection)
            room.connections.put_nowait(connection)
            logger.info("conversation %s: user connection handed to the bot", room.conversation_id)

        try:
            answer = await room.webrtc.handle_web_request(SmallWebRTCRequest(**offer), hand_to_bot)
        except HTTPException as exc:
            raise OfferRejected(f"The room refused this offer: {exc.detail}") from None
        except Exception as exc:
            raise OfferRejected(f"The room could not use this offer: {exc}") from None
        if failed:
            connection, error = failed[0]
            # Its "closed" event takes it out of the room's handler: the next offer works.
            await bounded(connection.disconnect(), "closing a connection the bot cannot use")
            logger.warning(
                "conversation %s: an offer the bot cannot use: %s", room.conversation_id, error
            )
            raise OfferRejected("The room could not use this offer's audio.")
        return dict(answer)

    def _watch_connecting(self, room: LocalRoom, connection: Any) -> None:
        """Close the connection if it is not connected within WEBRTC_CONNECT_TIMEOUT_SECONDS.

        pipecat has a timer of its own for this, but its close is cancelled midway by the state
        change that close causes (its state handler cancels the timer's task, which is the one
        closing), and aiortc then never finishes closing that connection: every later close of
        it, the bot's included, waits forever (README, known issues). Closed from a task of our
        own, nothing cancels the close; pipecat's timer is pushed past ours and is cancelled
        by the state change when ours closes the connection.
        """
        timeout = self._settings.webrtc_connect_timeout_seconds
        connection.connection_timeout_secs = timeout + _PIPECAT_TIMER_MARGIN_SECONDS

        async def watch() -> None:
            await asyncio.sleep(timeout)
            state = connection.pc.connectionState if connection.pc is not None else "closed"
            if state in {"connected", "closed"}:
                return
            logger.warning(
                "conversation %s: the user's connection is still %s after %.0f s: closed",
                room.conversation_id,
                state,
                timeout,
            )
            await bounded(connection.disconnect(), "closing a connection that never connected")

        task = asyncio.create_task(watch(), name=f"connect-watch-{room.name}")
        room.watchers.add(task)
        task.add_done_callback(room.watchers.discard)

    async def add_candidates(self, name: str, patch: dict[str, Any]) -> None:
        """Add trickled ICE candidates to a connection of the room.

        Raises:
            ConversationGone: no such room here.
            PeerConnectionNotFound: the room has no connection with that pc_id.
        """
        from fastapi import HTTPException
        from pipecat.transports.smallwebrtc.request_handler import (
            IceCandidate,
            SmallWebRTCPatchRequest,
        )

        room = self._room(name)
        taken = room.candidates.get(patch["pc_id"], 0) + len(patch["candidates"])
        if taken > MAX_CANDIDATES_PER_CONNECTION:
            raise TooManyCandidates()
        room.candidates[patch["pc_id"]] = taken
        request = SmallWebRTCPatchRequest(
            pc_id=patch["pc_id"],
            candidates=[
                IceCandidate(c["candidate"], c["sdp_mid"], c["sdp_mline_index"])
                for c in patch["candidates"]
            ],
        )
        try:
            await room.webrtc.handle_patch_request(request)
        except HTTPException:
            raise PeerConnectionNotFound() from None

    def _room(self, name: str) -> LocalRoom:
        room = self.get(name)
        if room is None:
            raise ConversationGone()
        return room

    async def delete_room(self, name: str) -> None:
        """Close the room's media here and hang up its peers; a room not here counts as deleted.

        Its tokens stop working once its conversation has ended (signalling checks that).
        """
        room = self._rooms.pop(name, None)
        if room is None:
            return
        for watcher in list(room.watchers):
            watcher.cancel()
        if room.webrtc is not None:
            await bounded(room.webrtc.close(), f"closing room {name}'s connections")

    async def close(self) -> None:
        """Delete every room whose media is here."""
        for name in list(self._rooms):
            await self.delete_room(name)


class LocalBotTransport:
    """A bot's way into a local room: the user's WebRTC connection, as pipecat's transport."""

    joined_event = "on_client_connected"
    left_event = "on_client_disconnected"
    # A rejoin's connection is swapped into the same transport, which reports it connected.
    rejoined_event = "on_client_connected"
    # Connected means ICE and DTLS are done on our side, which as the DTLS client finishes
    # last: audio sent then is heard from its first word, so the bot greets at once.
    media_ready_on_join = True

    def __init__(self, provider: LocalRoomProvider, room: LocalRoom) -> None:
        self._provider = provider
        self.room = room
        self._connection: Any = None

    @property
    def connections(self) -> asyncio.Queue[Any]:
        """Where the user's connections arrive."""
        return self.room.connections

    async def join(self) -> None:
        """Nothing to join: the room's media lives in this process, made with the bot."""

    async def open(self) -> Any:
        """Wait for the user's first offer; the SmallWebRTC transport on its connection."""
        from src.voice_pipeline import media
        from src.voice_pipeline.smallwebrtc_rejoin import release_writes_on_hang_up

        self._connection = await self.room.connections.get()
        transport = media.LocalWebRTCTransport(self._connection)
        release_writes_on_hang_up(transport)
        return transport

    async def gone(self, idle_timeout: float) -> None:
        """Return once the page has sent no data-channel ping for `idle_timeout` seconds.

        aiortc cannot see a peer that vanishes without closing, so the page pings.
        """
        silent_since: float | None = None
        while True:
            await asyncio.sleep(1.0)
            if self._connection is None or self._connection.is_connected():
                silent_since = None
                continue
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since >= idle_timeout:
                return

    async def take_rejoins(self, transport: Any) -> None:
        """Swap each later connection of the user (a rejoin's offer) into the running
        SmallWebRTC transport; the room's handler lets one connection in at a time."""
        from src.voice_pipeline.smallwebrtc_rejoin import swap_connection

        while True:
            connection = await self.room.connections.get()
            previous, self._connection = self._connection, connection
            logger.info("conversation %s: the user's new connection", self.room.conversation_id)
            await swap_connection(transport, connection)
            if previous is not None:
                await bounded(previous.disconnect(), "hanging up the user's previous connection")

    async def drop_user(self) -> None:
        """Hang up a connection whose pings stopped: the room then takes the user's next offer
        (aiortc alone would keep the vanished peer's connection open)."""
        if self._connection is not None:
            await bounded(self._connection.disconnect(), "hanging up a silent connection")

    async def close(self) -> None:
        """Disconnect the user and close the room's media in this process (each step bounded:
        a connection aiortc cannot close does not hold the bot)."""
        if self._connection is not None:
            await bounded(self._connection.disconnect(), "hanging up the user's connection")
        await self._provider.delete_room(self.room.name)
