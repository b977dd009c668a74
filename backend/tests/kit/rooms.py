"""A local room's signalling as the room page does it (the test peers and the load users)."""

from __future__ import annotations

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
