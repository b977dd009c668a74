"""A user's WebRTC connection that never connects must not hold its bot, its slot or its room.

pipecat closes a connection still connecting after its timeout; aiortc's close could then be
cut short (issue 21: the timeout task was cancelled by the state change its own close caused)
and every later close waited forever: the end request never answered, the slot was never freed
and shutdown hung. Real bots, real WebRTC on loopback; each peer sends a valid offer and then
fails to connect in its own way: it vanishes before ICE, its UDP is dropped from the start
(tests/netem.py), or it stops in the middle of DTLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.core.settings import Settings
from src.main import create_app
from tests import netem
from tests.api.conversation_helpers import eventually, no_bots_left, row, runner, start
from tests.conftest import auth, make_settings, register

pytestmark = pytest.mark.once

CONNECT_TIMEOUT = 1.5
# A hang is forever; a prompt answer is well under a second (measured in the drills).
ANSWERS_WITHIN = 5.0

Failure = Callable[[RTCPeerConnection, dict[str, str]], Awaitable[None]]


@pytest.fixture
def settings(clean_db: str) -> Settings:
    return make_settings(
        clean_db, webrtc_connect_timeout_seconds=CONNECT_TIMEOUT, join_timeout_seconds=120
    )


async def _vanish_before_ice(pc: RTCPeerConnection, _answer: dict[str, str]) -> None:
    """Gone before any ICE check is answered: the answer is never applied."""
    await pc.close()


async def _udp_dropped(pc: RTCPeerConnection, answer: dict[str, str]) -> None:
    """Every datagram dropped both ways from the start (a firewall that blocks UDP)."""
    netem.impair(pc, up=netem.Profile(loss=1.0), down=netem.Profile(loss=1.0))
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))


async def _gone_during_dtls(pc: RTCPeerConnection, answer: dict[str, str]) -> None:
    """ICE completes, then the peer answers no DTLS: it stops before its handshake."""
    never = asyncio.Event()

    async def stalled_start(*_args: Any, **_kwargs: Any) -> None:
        await never.wait()

    for transceiver in pc.getTransceivers():
        transceiver.sender.transport.start = stalled_start
    if pc.sctp is not None:
        pc.sctp.transport.start = stalled_start
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))


FAILURES = {
    "vanished before ICE": _vanish_before_ice,
    "UDP dropped from the start": _udp_dropped,
    "gone during DTLS": _gone_during_dtls,
}


@contextlib.asynccontextmanager
async def _stuck_peer(
    client: httpx.AsyncClient, body: dict[str, str], fail: Failure
) -> AsyncIterator[None]:
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
    await fail(pc, response.json())
    try:
        yield
    finally:
        await asyncio.wait_for(pc.close(), ANSWERS_WITHIN)


async def _connection_gave_up(app: FastAPI, conversation_id: str) -> None:
    def closed() -> None:
        transport = runner(app).transport(uuid.UUID(conversation_id))
        connection = getattr(transport, "_connection", None)
        assert connection is not None
        assert connection.pc.connectionState in {"closed", "failed"}

    await eventually(closed, within=30)


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_peer_that_never_connects_frees_its_bot_on_end(
    app: FastAPI, client: httpx.AsyncClient, bot: object, failure: str
) -> None:
    user = await register(client)
    body = (await start(client, user["access_token"])).json()
    async with _stuck_peer(client, body, FAILURES[failure]):
        # The room gives up on the connection while the bot still waits for it.
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


async def test_shutdown_does_not_hang_on_a_stuck_peer(settings: Settings, bot: Any) -> None:
    """A server stopping (SIGTERM: uvicorn runs the lifespan's shutdown) with a connection that
    gave up mid-DTLS ends within its drain, its call recorded as ended."""
    application = create_app(settings.model_copy(update={"drain_timeout_seconds": 1}), run_bot=bot)
    manager = LifespanManager(application, startup_timeout=60, shutdown_timeout=60)
    await manager.__aenter__()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            user = await register(client)
            body = (await start(client, user["access_token"])).json()
            async with _stuck_peer(client, body, _gone_during_dtls):
                await _connection_gave_up(application, body["conversation_id"])
                await asyncio.wait_for(manager.__aexit__(None, None, None), 3 * ANSWERS_WITHIN)
    finally:
        with contextlib.suppress(Exception):
            await manager.__aexit__(None, None, None)
    stored = await row(application, body["conversation_id"])
    assert stored.status == "ended"
