"""Signalling for local rooms: who may connect, and a real WebRTC offer reaching the bot."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fastapi import FastAPI

from src.core.clock import utcnow
from src.core.enums import EndReason
from src.core.security import ROOM_AUDIENCE, encode_token
from tests.api.conversation_helpers import (
    eventually,
    row,
    runner,
    services,
    start,
    user_token,
)
from tests.conftest import TEST_SECRET, auth
from tests.fakes.bots import ScriptedBot


def _room_token(room: str, *, role: str = "user", minutes: int = 5, sub: str | None = None) -> str:
    return encode_token(
        {"sub": sub or str(uuid.uuid4()), "room": room, "role": role},
        secret=TEST_SECRET,
        audience=ROOM_AUDIENCE,
        expires_at=utcnow() + timedelta(minutes=minutes),
    )


async def _offer_sdp() -> tuple[RTCPeerConnection, dict[str, str]]:
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server
    peer.addTransceiver("audio", direction="sendrecv")
    peer.createDataChannel("chat")
    await peer.setLocalDescription(await peer.createOffer())
    return peer, {"sdp": peer.localDescription.sdp, "type": "offer"}


class TestOffer:
    async def test_who_may_connect(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        started = (await start(client, token)).json()
        room = started["daily_room_url"].rsplit("/", 1)[1]
        other = (await start(client, await user_token(client))).json()
        conversation_id = started["conversation_id"]
        url = f"/api/v1/rooms/{room}/offer"
        body = {"sdp": "v=0", "type": "offer"}
        cases = {
            "no token": ({}, 401),
            "access token instead of room token": (auth(token), 401),
            "another room's token": (auth(other["daily_token"]), 401),
            "the bot's role": (auth(_room_token(room, role="bot", sub=conversation_id)), 401),
            "expired": (auth(_room_token(room, minutes=-1, sub=conversation_id)), 401),
        }
        for name, (headers, status) in cases.items():
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == status, name
            assert response.json()["error"] == "not_authenticated", name
        unknown = await client.post(
            "/api/v1/rooms/conv-nothing/offer", json=body, headers=auth(_room_token("conv-nothing"))
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"] == "room_not_found"
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200
        gone = await client.post(url, json=body, headers=auth(started["daily_token"]))
        assert gone.status_code == 410
        assert gone.json()["error"] == "conversation_ended"

    async def test_a_real_offer_is_answered_and_reaches_the_bot(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        started = (await start(client, await user_token(client))).json()
        room = started["daily_room_url"].rsplit("/", 1)[1]
        conversation_id = uuid.UUID(started["conversation_id"])
        peer, offer = await _offer_sdp()
        try:
            response = await client.post(
                f"/api/v1/rooms/{room}/offer", json=offer, headers=auth(started["daily_token"])
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["type"] == "answer"
            assert answer["pc_id"]
            await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await eventually(lambda: _has_connection(bot, conversation_id))
            (connection,) = bot.connections[conversation_id]
            assert connection.pc_id == answer["pc_id"]
            await eventually(lambda: _joined(app, conversation_id))
            patch = await client.patch(
                f"/api/v1/rooms/{room}/offer",
                json={"pc_id": answer["pc_id"], "candidates": []},
                headers=auth(started["daily_token"]),
            )
            assert patch.status_code == 204
            second_peer, second_offer = await _offer_sdp()
            refused = await client.post(
                f"/api/v1/rooms/{room}/offer",
                json=second_offer,
                headers=auth(started["daily_token"]),
            )
            await second_peer.close()
            assert refused.status_code == 400  # one user connection per room
            assert "error" in refused.json()
        finally:
            await peer.close()
        await runner(app).cancel(conversation_id, EndReason.USER_LEFT)


async def _joined(app: FastAPI, conversation_id: uuid.UUID) -> None:
    stored = await row(app, conversation_id)
    assert stored.status == "active"
    assert stored.user_joined_at is not None


def _has_connection(bot: ScriptedBot, conversation_id: uuid.UUID) -> None:
    assert bot.connections.get(conversation_id)


class TestLeave:
    async def test_leave_ends_the_conversation(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        started = (await start(client, await user_token(client))).json()
        room = started["daily_room_url"].rsplit("/", 1)[1]
        url = f"/api/v1/rooms/{room}/leave"
        assert (await client.post(url)).status_code == 401
        left = await client.post(url, headers=auth(started["daily_token"]))
        assert left.status_code == 204
        stored = await row(app, started["conversation_id"])
        assert (stored.status, stored.end_reason) == ("ended", "user_ended")
        assert bot.cancelled == {uuid.UUID(started["conversation_id"])}
        assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]
        again = await client.post(url, headers=auth(started["daily_token"]))
        assert again.status_code == 409


class TestPages:
    async def test_pages_and_their_scripts_are_served(self, client: httpx.AsyncClient) -> None:
        for path, marker in [
            ("/", "Start conversation"),
            ("/rooms/conv-abc", "room.js"),
            ("/static/room.js", "RTCPeerConnection"),
            ("/static/index.js", "/conversations/start"),
        ]:
            response = await client.get(path)
            assert response.status_code == 200, path
            assert marker in response.text, path
