"""Rejoining a live conversation: a new token for the same room, while it is live and yours."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI

from tests.api.conversation_helpers import deliver, eventually, row, services, start, user_token
from tests.conftest import auth
from tests.fakes.bots import JOIN


class TestJoin:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"/api/v1/conversations/{uuid.uuid4()}/join")
        assert response.status_code == 401

    async def test_a_live_conversation_gives_a_new_token_for_its_room(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        body = (await start(client, token)).json()
        joined = await client.post(
            f"/api/v1/conversations/{body['conversation_id']}/join", headers=auth(token)
        )
        assert joined.status_code == 200, joined.text
        again = joined.json()
        assert set(again) == set(body)
        assert again["conversation_id"] == body["conversation_id"]
        assert again["daily_room_url"] == body["daily_room_url"]
        assert again["status"] == "waiting_for_user"
        assert again["daily_token"] != body["daily_token"]
        # The new token is the room's user token, and lives no longer than the room.
        signalling = services(app).rooms.signalling
        assert signalling is not None
        room = body["daily_room_url"].rsplit("/", 1)[1]
        conversation_id, _ = signalling.verify_grant(again["daily_token"], room, "user")
        assert str(conversation_id) == body["conversation_id"]
        assert datetime.fromisoformat(again["expires_at"]) <= datetime.fromisoformat(
            body["expires_at"]
        )

    async def test_the_status_says_active_once_the_user_joined(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)

        async def active() -> None:
            assert (await row(app, conversation_id)).status == "active"

        await eventually(active)
        joined = await client.post(
            f"/api/v1/conversations/{conversation_id}/join", headers=auth(token)
        )
        assert joined.json()["status"] == "active"

    async def test_an_ended_conversation_is_409(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/join", headers=auth(token)
        )
        assert response.status_code == 409
        assert response.json()["error"] == "conversation_already_ended"

    async def test_another_user_s_is_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/join",
            headers=auth(await user_token(client)),
        )
        assert response.status_code == 404
        assert response.json()["error"] == "conversation_not_found"
        assert (await row(app, conversation_id)).is_live

    async def test_an_unknown_one_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            f"/api/v1/conversations/{uuid.uuid4()}/join", headers=auth(await user_token(client))
        )
        assert response.status_code == 404


async def test_the_openapi_document_describes_join(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/conversations/{conversation_id}/join"]["post"]
    assert operation["description"].startswith("Join one of your live conversations again")
    assert {"200", "401", "404", "409", "500"} <= set(operation["responses"])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/StartConversationResponse"}
    start_body = document["components"]["schemas"]["StartConversationResponse"]
    assert start_body["examples"][0]["daily_token"]
    read = document["components"]["schemas"]["ConversationRead"]["properties"]["topics"]
    assert read["examples"] == [["life_path", "personal_year"]]
