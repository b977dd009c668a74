"""A user's WebRTC connection that never connects must not hold its bot, its slot or its room.

pipecat closes a connection still connecting after its timeout; aiortc's close could then be
cut short (issue 21: the timeout task was cancelled by the state change its own close caused)
and every later close waited forever: the end request never answered and the slot was never
freed. Real bots, real WebRTC on loopback; each peer sends a valid offer and then fails to
connect in its own way.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from fastapi import FastAPI

from src.core.settings import Settings
from tests.api.conversation_helpers import eventually, no_bots_left, row, runner, start
from tests.conftest import auth, make_settings, register

pytestmark = pytest.mark.once

CONNECT_TIMEOUT = 1.5
# A hang is forever; a prompt answer is well under a second (measured in the drills).
ANSWERS_WITHIN = 5.0


@pytest.fixture
def settings(clean_db: str) -> Settings:
    return make_settings(
        clean_db, webrtc_connect_timeout_seconds=CONNECT_TIMEOUT, join_timeout_seconds=120
    )


async def _offer_and_vanish(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    """A valid offer, then nothing: the peer is gone before any ICE check is answered."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio")
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    room = body["daily_room_url"].rsplit("/", 1)[1]
    response = await client.post(
        f"/api/v1/rooms/{room}/offer",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers=auth(body["daily_token"]),
    )
    assert response.status_code == 200, response.text
    await pc.close()


async def _connection_gave_up(app: FastAPI, conversation_id: str) -> None:
    def closed() -> None:
        transport = runner(app).transport(uuid.UUID(conversation_id))
        connection = getattr(transport, "_connection", None)
        assert connection is not None
        assert connection.pc.connectionState in {"closed", "failed"}

    await eventually(closed, within=30)


async def test_a_peer_that_never_connects_frees_its_bot_on_end(
    app: FastAPI, client: httpx.AsyncClient, bot: object
) -> None:
    user = await register(client)
    body = (await start(client, user["access_token"])).json()
    await _offer_and_vanish(client, body)
    # pipecat's connecting timeout closes the connection while the bot still waits for it.
    await _connection_gave_up(app, body["conversation_id"])

    response = await asyncio.wait_for(
        client.post(
            f"/api/v1/conversations/{body['conversation_id']}/end",
            headers=auth(user["access_token"]),
        ),
        ANSWERS_WITHIN,
    )
    assert response.status_code == 200, response.text
    assert (await row(app, body["conversation_id"])).status == "ended"
    await no_bots_left(app)
    health = (await client.get("/health")).json()
    assert (health["bots"], health["rooms"]) == (0, 0), health
