"""The embedded room provider: rooms served over WebRTC (pipecat's SmallWebRTC), no outside service.

A room has two halves. Its tokens (JWTs signed by the app, scoped to one room and one role) are
made by the API process that starts the conversation. Its media half (a WebRTC request handler
that answers the user's SDP offers, and the queue handing their connections to the bot) lives
in the process that runs the room's bot: the API itself in the embedded mode, a worker in the
worker mode, which then answers the offers the API forwards to it.

The tokens are tokens.py's; the media half and the bot's transport into it are transport.py's
(with media.py, the lighter media path, and transport.py, which takes rejoins).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from src.core.clock import utcnow
from src.core.settings import Settings
from src.core.teardown import bounded
from src.rooms.base import (
    MAX_CANDIDATES_PER_CONNECTION,
    ConversationGone,
    OfferRejected,
    PeerConnectionNotFound,
    ProviderName,
    Room,
    RoomAccess,
    RoomJob,
    RoomRole,
    TooManyCandidates,
    room_name_for,
)
from src.rooms.local import tokens
from src.rooms.local.transport import LocalBotTransport, LocalRoom, UserConnection

logger = logging.getLogger(__name__)

# pipecat's own connecting timer is set this much later than ours, so ours always closes first.
_PIPECAT_TIMER_MARGIN_SECONDS = 30.0
# A new connection's offer (a rejoin: no pc_id) replaces the user's held connection once nothing
# has come on that one for this long. A browser sends its microphone's packets 50 times a
# second, silence included, so a second without any means its path is dead (a phone moved from
# Wi-Fi to mobile data): the room takes the rejoin at once instead of refusing it until the bot
# hangs the dead one up (pings missing for BOT_IDLE_TIMEOUT_SECONDS, ~13 s). A live connection
# is never replaced: two open tabs do not take the call from each other.
SILENT_CONNECTION_SECONDS = 1.0
# How long an offer waits for a replaced connection to leave the room's handler.
_REPLACED_WAIT_SECONDS = 2.0


class LocalRoomProvider:
    """Makes local rooms' tokens, and holds the media of the rooms whose bots run here."""

    name: ClassVar[ProviderName] = "local"
    uses_our_ice_servers: ClassVar[bool] = True

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._rooms: dict[str, LocalRoom] = {}

    @property
    def signalling(self) -> LocalRoomProvider:
        """Its own: the user's offers for a room reach the room's media here."""
        return self

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
        return tokens.issue(self._settings.jwt_secret, conversation_id, room, role, exp, who)

    def verify_grant(
        self, token: str, room_name: str, role: RoomRole
    ) -> tuple[uuid.UUID, datetime]:
        """The conversation id and the expiry (the room's) of a valid token for this room and role.

        Raises:
            RoomTokenError: invalid, expired, for another room or another role.
        """
        return tokens.verify(self._settings.jwt_secret, token, room_name, role)

    def bot_transport(self, job: RoomJob) -> LocalBotTransport:
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
        return LocalBotTransport(room, release=lambda: self.delete_room(room.name))

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

        from src.rooms.local import media

        room = self._room(name)
        failed: list[tuple[Any, Exception]] = []

        async def hand_to_bot(connection: Any) -> None:
            # pipecat logs and swallows an error raised here, and keeps the connection (which
            # then refused every later offer): it is recorded and the connection closed below.
            try:
                # Before the connection is up: its receiver takes its decoder when it starts.
                hearing = media.decode_speech_at_16k(connection)
            except Exception as exc:
                failed.append((connection, exc))
                return
            room.current = UserConnection(connection, hearing)
            self._watch_connecting(room, connection)
            room.connections.put_nowait(connection)
            logger.info("conversation %s: user connection handed to the bot", room.conversation_id)

        replaced = not offer.get("pc_id") and await self._hang_up_silent_connection(room)
        deadline = asyncio.get_running_loop().time() + _REPLACED_WAIT_SECONDS
        while True:
            try:
                answer = await room.webrtc.handle_web_request(
                    SmallWebRTCRequest(**offer), hand_to_bot
                )
                break
            except HTTPException as exc:
                # A replaced connection leaves the handler on its "closed" event, a moment after
                # its close: until then the handler still counts it.
                if replaced and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.05)
                    continue
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

    async def _hang_up_silent_connection(self, room: LocalRoom) -> bool:
        """Before a new connection's offer: hang up the user's held connection if nothing has
        come on it for SILENT_CONNECTION_SECONDS; whether it was."""
        if room.current is None:
            return False
        held, hearing = room.current.connection, room.current.hearing
        if held.pc is None:
            return False
        if held.pc.connectionState == "closed":
            return False
        silent = hearing.silent_for()
        if silent < SILENT_CONNECTION_SECONDS:
            return False
        logger.info(
            "conversation %s: a new connection replaces the user's, silent for %.1f s",
            room.conversation_id,
            silent,
        )
        await bounded(held.disconnect(), "hanging up a silent connection for a new one")
        return True

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
