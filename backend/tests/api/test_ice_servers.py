"""The ICE servers handed to the user: in the start answer and from the room page's own route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from src.core.settings import Settings
from src.models.idempotency import IdempotencyKey
from tests.api.conversation_helpers import start, user_token
from tests.conftest import auth, daily_settings, make_settings
from tests.fakes.daily import FakeDaily

TURN_SECRET = "turn-secret-" + "t" * 40
STUN = {"urls": ["stun:stun.example.com:3478"], "username": None, "credential": None}
STATIC_TURN = {
    "urls": ["turns:relay.example.com:443?transport=tcp"],
    "username": "static-user",
    "credential": "static-pass",
}
TURN_URLS = ["turn:turn.example.com:3478?transport=udp", "turn:turn.example.com:3478?transport=tcp"]


TTL = 120


@pytest.fixture
def settings(clean_db: str) -> Settings:
    return make_settings(
        clean_db,
        ice_servers=[STUN, STATIC_TURN],
        turn_urls=TURN_URLS,
        turn_secret=TURN_SECRET,
        turn_credential_ttl_seconds=TTL,
    )


def _check_turn_entry(
    entry: dict[str, Any], conversation_id: str, expires_at: str, made: tuple[float, float]
) -> None:
    """A TURN REST API entry for this conversation, valid TTL seconds from when it was made
    (between the two times `made`), not as long as its room."""
    assert entry["urls"] == TURN_URLS
    expiry, conversation = entry["username"].split(":", 1)
    assert conversation == conversation_id
    assert int(made[0]) + TTL <= int(expiry) <= int(made[1]) + TTL
    assert int(expiry) < int(datetime.fromisoformat(expires_at).timestamp())
    digest = hmac.new(TURN_SECRET.encode(), entry["username"].encode(), hashlib.sha1).digest()
    assert entry["credential"] == base64.b64encode(digest).decode()


class TestStartAnswer:
    async def test_carries_ice_servers_and_turn_credentials_of_its_own(
        self, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        made = time.time()
        first = (await start(client, token)).json()
        second = (await start(client, token)).json()
        for body in (first, second):
            stun, static, turn = body["ice_servers"]
            assert (stun, static) == (STUN, STATIC_TURN)
            _check_turn_entry(
                turn, body["conversation_id"], body["expires_at"], (made, time.time())
            )
        assert first["ice_servers"][2] != second["ice_servers"][2]
        # The secret itself never leaves the server.
        assert TURN_SECRET not in str(first) + str(second)

    async def test_an_idempotent_replay_gives_the_same_servers_without_storing_them(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        key = {"Idempotency-Key": "ice-replay"}
        made = time.time()
        first = (await start(client, token, **key)).json()
        again = (await start(client, token, **key)).json()
        assert again["conversation_id"] == first["conversation_id"]
        assert again["ice_servers"][:2] == first["ice_servers"][:2]
        _check_turn_entry(
            again["ice_servers"][2],
            first["conversation_id"],
            first["expires_at"],
            (made, time.time()),
        )
        # The remembered answer holds no TURN credential: the replay made them again.
        async with app.state.database.sessionmaker() as session:
            stored = (await session.scalars(select(IdempotencyKey))).one().response
        assert stored["conversation_id"] == first["conversation_id"]
        assert "ice_servers" not in stored
        assert first["ice_servers"][2]["credential"] not in str(stored)


class TestRoomIceServers:
    async def test_needs_the_rooms_user_token(self, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        started = (await start(client, token)).json()
        other = (await start(client, await user_token(client))).json()
        url = _url(started)
        for headers in ({}, auth(token), auth(other["daily_token"])):
            response = await client.get(url, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "not_authenticated"

    async def test_renews_the_start_answer_s_servers_while_live(
        self, client: httpx.AsyncClient
    ) -> None:
        started = (await start(client, await user_token(client))).json()
        made = time.time()
        response = await client.get(_url(started), headers=auth(started["daily_token"]))
        assert response.status_code == 200, response.text
        stun, static, turn = response.json()["ice_servers"]
        assert [stun, static] == started["ice_servers"][:2]
        _check_turn_entry(
            turn, started["conversation_id"], started["expires_at"], (made, time.time())
        )

    async def test_is_gone_once_the_conversation_ended(self, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        started = (await start(client, token)).json()
        ended = await client.post(
            f"/api/v1/conversations/{started['conversation_id']}/end", headers=auth(token)
        )
        assert ended.status_code == 200, ended.text
        response = await client.get(_url(started), headers=auth(started["daily_token"]))
        assert response.status_code == 410
        assert response.json()["error"] == "conversation_ended"

    async def test_a_replayed_start_of_an_ended_conversation_carries_no_turn_credentials(
        self, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        key = {"Idempotency-Key": "ice-after-end"}
        started = (await start(client, token, **key)).json()
        await client.post(
            f"/api/v1/conversations/{started['conversation_id']}/end", headers=auth(token)
        )
        again = await start(client, token, **key)
        assert again.status_code == 200, again.text
        assert again.json()["conversation_id"] == started["conversation_id"]
        assert again.json()["ice_servers"] == [STUN, STATIC_TURN]


class TestWithoutTurn:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, ice_servers=[STUN])

    async def test_gives_ice_servers_alone(self, client: httpx.AsyncClient) -> None:
        started = (await start(client, await user_token(client))).json()
        assert started["ice_servers"] == [STUN]


class TestDailyRooms:
    @pytest.fixture
    def settings(self, clean_db: str, fake_daily: FakeDaily) -> Settings:
        return daily_settings(
            clean_db,
            fake_daily,
            ice_servers=[STUN],
            turn_urls=TURN_URLS,
            turn_secret=TURN_SECRET,
        )

    async def test_get_none_daily_brings_its_own(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        response = await start(client, await user_token(client))
        assert response.status_code == 200, response.text
        assert response.json()["ice_servers"] == []


def _url(started: dict[str, Any]) -> str:
    room = started["daily_room_url"].rsplit("/", 1)[1]
    return f"/api/v1/rooms/{room}/ice-servers"
