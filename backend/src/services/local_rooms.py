"""The embedded room provider: rooms served by this app over WebRTC (pipecat's SmallWebRTC).

No outside service. A room is a name, an expiry and a WebRTC request handler that answers the
user's SDP offers; tokens are JWTs signed by the app, scoped to one room and one role.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import jwt

from src.core.database import utcnow
from src.core.security import ROOM_AUDIENCE, decode_token, encode_token
from src.core.settings import Settings
from src.services.rooms import ProviderName, Room, room_name_for

logger = logging.getLogger(__name__)

RoomRole = Literal["user", "bot"]


class RoomTokenError(Exception):
    """A room token that is invalid, expired, or not for this room and role."""


@dataclass
class LocalRoom:
    """One live local room."""

    name: str
    conversation_id: uuid.UUID
    expires_at: datetime
    # pipecat's SmallWebRTCRequestHandler, one per room so peer ids never cross rooms.
    webrtc: Any = field(default=None, repr=False)


class LocalRoomProvider:
    """Rooms held in this process; the signalling endpoints reach them by name."""

    name: ClassVar[ProviderName] = "local"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._rooms: dict[str, LocalRoom] = {}

    async def create_room(self, conversation_id: uuid.UUID, *, user_name: str) -> Room:
        """Create a room and its two tokens; it expires after ROOM_TTL_SECONDS."""
        from pipecat.transports.smallwebrtc.request_handler import (
            ConnectionMode,
            SmallWebRTCRequestHandler,
        )

        name = room_name_for(conversation_id)
        expires_at = utcnow() + timedelta(seconds=self._settings.room_ttl_seconds)
        handler = SmallWebRTCRequestHandler(connection_mode=ConnectionMode.SINGLE)
        self._rooms[name] = LocalRoom(name, conversation_id, expires_at, handler)
        return Room(
            name=name,
            url=f"{self._settings.base_url}/rooms/{name}",
            user_token=self._token(conversation_id, name, "user", expires_at, user_name),
            bot_token=self._token(conversation_id, name, "bot", expires_at, "Numerologist"),
            expires_at=expires_at,
            provider=self.name,
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
        try:
            claims = decode_token(token, secret=self._settings.jwt_secret, audience=ROOM_AUDIENCE)
        except jwt.ExpiredSignatureError:
            raise RoomTokenError("The room token has expired.") from None
        except jwt.InvalidTokenError:
            raise RoomTokenError("The room token is invalid.") from None
        if claims.get("room") != room_name or claims.get("role") != role:
            raise RoomTokenError("This token is not valid for this room.")
        try:
            return uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise RoomTokenError("The room token is invalid.") from None

    def get(self, name: str) -> LocalRoom | None:
        """A live room by name, or None if it never existed, was deleted or expired."""
        room = self._rooms.get(name)
        if room is None or room.expires_at <= utcnow():
            return None
        return room

    def room_names(self) -> set[str]:
        """The names of the rooms that exist now."""
        return set(self._rooms)

    async def delete_room(self, name: str) -> None:
        """Delete a room and hang up its peers; a room already gone counts as deleted."""
        room = self._rooms.pop(name, None)
        if room is not None and room.webrtc is not None:
            await room.webrtc.close()

    async def close(self) -> None:
        """Delete every room."""
        for name in list(self._rooms):
            await self.delete_room(name)
