"""What pipecat's client SDKs send and need, in the exact shapes they use (README "Room protocol").

`@pipecat-ai/small-webrtc-transport` 1.10 POSTs ``{sdp, type, pc_id, restart_pc[, requestData]}``
to its endpoint and PATCHes ``{pc_id, candidates: [{candidate, sdp_mid, sdp_mline_index}]}`` to
the same URL, with the headers it was given; `@pipecat-ai/daily-transport` joins with
``connect({url, token})``. The browser test (tests/voice/test_sdk_client.py) runs the SDK itself.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from fastapi import FastAPI

from src.core.enums import EndReason
from src.core.settings import Settings
from tests.api.conversation_helpers import eventually, runner, start, user_token
from tests.conftest import auth, daily_settings, make_settings
from tests.fakes.bots import ScriptedBot
from tests.fakes.daily import FakeDaily

PAGE_ORIGIN = "https://app.example.com"


@pytest.fixture
def settings(clean_db: str) -> Settings:
    """Local rooms, and a client team's page on another origin."""
    return make_settings(clean_db, cors_origins=PAGE_ORIGIN)


def _room_path(started: dict[str, str]) -> str:
    """The room URL's path: the SDK's `webrtcRequestParams.endpoint` is the room URL itself."""
    assert started["daily_room_url"].startswith("http://testserver/rooms/conv-")
    return started["daily_room_url"].removeprefix("http://testserver")


async def _offer(peer: RTCPeerConnection, pc_id: str | None = None) -> dict[str, object]:
    await peer.setLocalDescription(await peer.createOffer())
    # The SDK's body: pc_id null until the first answer, restart_pc false, its requestData.
    return {
        "sdp": peer.localDescription.sdp,
        "type": "offer",
        "pc_id": pc_id,
        "restart_pc": False,
        "requestData": {"app": "numerology-web", "build": 42},
    }


class TestSmallWebRTCSignalling:
    async def test_offer_ice_and_renegotiation_at_the_room_url(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        started = (await start(client, await user_token(client))).json()
        path, token = _room_path(started), auth(started["daily_token"])
        conversation_id = uuid.UUID(started["conversation_id"])
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server
        peer.addTransceiver("audio", direction="sendrecv")
        peer.addTransceiver("video", direction="sendrecv")  # the SDK always offers a camera
        peer.createDataChannel("chat")
        try:
            assert (await client.post(path, json=await _offer(peer))).status_code == 401
            answered = await client.post(path, json=await _offer(peer), headers=token)
            assert answered.status_code == 200, answered.text
            answer = answered.json()
            await peer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            await eventually(lambda: _connected(bot, conversation_id))
            candidate = {
                "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50312 typ host generation 0",
                "sdp_mid": "0",
                "sdp_mline_index": 0,
            }
            patched = await client.patch(
                path, json={"pc_id": answer["pc_id"], "candidates": [candidate]}, headers=token
            )
            assert patched.status_code == 204, patched.text
            # The SDK renegotiates (the bot's `renegotiate` signal) with the pc_id it was given.
            again = await client.post(path, json=await _offer(peer, answer["pc_id"]), headers=token)
            assert again.status_code == 200, again.text
            assert again.json()["pc_id"] == answer["pc_id"]
            await peer.setRemoteDescription(RTCSessionDescription(again.json()["sdp"], "answer"))
            assert len(bot.connections[conversation_id]) == 1  # the same connection, renegotiated
        finally:
            await peer.close()
        await runner(app).cancel(conversation_id, EndReason.USER_LEFT)

    async def test_request_data_is_bounded(self, client: httpx.AsyncClient) -> None:
        started = (await start(client, await user_token(client))).json()
        body = {"sdp": "v=0", "type": "offer", "requestData": {"blob": "x" * 5000}}
        refused = await client.post(
            _room_path(started), json=body, headers=auth(started["daily_token"])
        )
        assert refused.status_code == 422
        assert refused.json()["error"] == "validation_error"

    async def test_a_page_on_another_origin_may_signal(self, client: httpx.AsyncClient) -> None:
        started = (await start(client, await user_token(client))).json()
        for method in ("POST", "PATCH"):
            preflight = await client.options(
                _room_path(started),
                headers={
                    "Origin": PAGE_ORIGIN,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 200, method
            assert preflight.headers["access-control-allow-origin"] == PAGE_ORIGIN
            assert method in preflight.headers["access-control-allow-methods"]


def _connected(bot: ScriptedBot, conversation_id: uuid.UUID) -> None:
    assert bot.connections.get(conversation_id)


class TestDailyTransport:
    @pytest.fixture
    def settings(self, clean_db: str, fake_daily: FakeDaily) -> Settings:
        return daily_settings(clean_db, fake_daily, daily_max_retries=1)

    async def test_the_start_answer_is_what_connect_url_token_needs(
        self, client: httpx.AsyncClient, fake_daily: FakeDaily, bot: ScriptedBot
    ) -> None:
        started = await start(client, await user_token(client, full_name="Grace Hopper"))
        body = started.json()
        (name,) = fake_daily.rooms
        # daily-transport: `client.connect({url: daily_room_url, token: daily_token})`.
        assert body["daily_room_url"] == f"https://fake.daily.co/{name}"
        user_tokens = [t for t in fake_daily.tokens if not t["is_owner"]]
        assert [t["room_name"] for t in user_tokens] == [name]  # a token for that room only
        assert user_tokens[0]["user_name"] == "Grace"  # the name the call shows
        assert body["daily_token"].startswith("daily-token-")
        ctx = bot.contexts[uuid.UUID(body["conversation_id"])]
        assert body["daily_token"] != ctx.job.bot_token  # the user's, never the bot's
