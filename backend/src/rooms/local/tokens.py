"""A local room's join tokens: JWTs signed by the app, scoped to one room and one role.

The API process that starts a conversation makes them; any API process verifies a user's token
before its signalling reaches the room's media.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt

from src.core.security import ROOM_AUDIENCE, decode_token, encode_token
from src.rooms.base import RoomRole, RoomTokenError


def issue(
    secret: str, conversation_id: uuid.UUID, room: str, role: RoomRole, exp: datetime, who: str
) -> str:
    """A token for `who` to join `room` as `role` until `exp`."""
    claims = {"sub": str(conversation_id), "room": room, "role": role, "name": who}
    return encode_token(claims, secret=secret, audience=ROOM_AUDIENCE, expires_at=exp)


def verify(secret: str, token: str, room_name: str, role: RoomRole) -> tuple[uuid.UUID, datetime]:
    """The conversation id and the expiry (the room's) of a valid token for this room and role.

    Raises:
        RoomTokenError: invalid, expired, for another room or another role.
    """
    try:
        claims = decode_token(token, secret=secret, audience=ROOM_AUDIENCE)
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
