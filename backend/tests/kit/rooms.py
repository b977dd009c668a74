"""A local room's signalling as the room page does it (the test peers and the load users), and
the transcript lines the bot's RTVI messages carry."""

from __future__ import annotations

from typing import Any

import httpx
from aiortc import RTCPeerConnection


async def post_offer(
    client: httpx.AsyncClient, pc: RTCPeerConnection, room_url: str, token: str
) -> httpx.Response:
    """POST `pc`'s local description (an offer) to the room's offer endpoint with the room
    token; the response, whatever its status."""
    room = room_url.rsplit("/", 1)[1]
    return await client.post(
        f"/api/v1/rooms/{room}/offer",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"Authorization": f"Bearer {token}"},
    )


def transcript_line(rtvi: dict[str, Any]) -> dict[str, Any] | None:
    """The transcript line an RTVI message from the bot carries (a `server-message` of type
    `transcript`, the lines the room page shows), or None."""
    data = rtvi.get("data") or {}
    if rtvi.get("type") == "server-message" and data.get("type") == "transcript":
        return data  # type: ignore[no-any-return]
    return None
