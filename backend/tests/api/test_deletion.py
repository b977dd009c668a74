"""Deleting one's data: an ended conversation, or the whole account with its live calls."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests.api.conversation_helpers import (
    all_rows,
    deliver,
    eventually,
    no_bots_left,
    row,
    runner,
    services,
    start,
    user_token,
)
from tests.conftest import auth, register
from tests.fakes.bots import JOIN


async def _ended(client: httpx.AsyncClient, token: str) -> str:
    conversation_id = str((await start(client, token)).json()["conversation_id"])
    ended = await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
    assert ended.status_code == 200
    return conversation_id


class TestDeleteConversation:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.delete(f"/api/v1/conversations/{'0' * 32}")
        assert response.status_code == 401

    async def test_an_ended_conversation_is_deleted(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = await _ended(client, token)
        kept = await _ended(client, token)
        response = await client.delete(
            f"/api/v1/conversations/{conversation_id}", headers=auth(token)
        )
        assert response.status_code == 204
        assert response.content == b""
        gone = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(token))
        assert gone.status_code == 404
        listed = (await client.get("/api/v1/conversations", headers=auth(token))).json()
        assert [item["id"] for item in listed["items"]] == [kept]
        assert [str(r.id) for r in await all_rows(app)] == [kept]

    async def test_a_live_conversation_is_409_and_kept(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        response = await client.delete(
            f"/api/v1/conversations/{conversation_id}", headers=auth(token)
        )
        assert response.status_code == 409
        assert response.json()["error"] == "conversation_live"
        assert (await row(app, conversation_id)).status == "waiting_for_user"
        assert uuid.UUID(conversation_id) in runner(app)

    async def test_another_user_s_is_404_and_kept(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        conversation_id = await _ended(client, await user_token(client))
        response = await client.delete(
            f"/api/v1/conversations/{conversation_id}", headers=auth(await user_token(client))
        )
        assert response.status_code == 404
        assert (await row(app, conversation_id)).status == "ended"


async def _delete_me(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", headers=auth(token), json={"password": password}
    )


class TestDeleteMe:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.delete("/api/v1/users/me")).status_code == 401

    async def test_a_token_alone_is_not_enough(self, client: httpx.AsyncClient) -> None:
        user = await register(client, email="stays@example.com")
        token = user["access_token"]
        no_password = await client.delete("/api/v1/users/me", headers=auth(token))
        assert no_password.status_code == 422
        assert no_password.json()["error"] == "validation_error"
        wrong = await _delete_me(client, token, "not the password")
        assert wrong.status_code == 403
        assert wrong.json() == {
            "error": "password_incorrect",
            "detail": "The password is incorrect.",
        }
        # Still there, and the session with it.
        assert (await client.get("/api/v1/users/me", headers=auth(token))).status_code == 200

    async def test_wrong_passwords_are_throttled_like_sign_ins(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client, email="stays@example.com")
        for _ in range(5):  # LOGIN_FAILURES_PER_EMAIL_AND_ADDRESS
            assert (await _delete_me(client, user["access_token"], "guess")).status_code == 403
        refused = await _delete_me(client, user["access_token"], user["password"])
        assert refused.status_code == 429
        assert (await client.get("/api/v1/users/me", headers=auth(user["access_token"]))).is_success

    async def test_the_account_its_calls_and_its_tokens_go(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        user = await register(client, email="leaving@example.com")
        token = user["access_token"]
        await _ended(client, token)
        live = (await start(client, token)).json()["conversation_id"]
        deliver(app, live, JOIN)
        other = await user_token(client)
        others = (await start(client, other)).json()["conversation_id"]

        response = await _delete_me(client, token, user["password"])
        assert response.status_code == 204
        await eventually(lambda: _only_bot_left(app, others))
        assert [str(r.id) for r in await all_rows(app)] == [others]
        rooms = services(app).rooms.room_names()  # type: ignore[attr-defined]
        assert rooms == {f"conv-{uuid.UUID(others).hex}"}
        assert (await client.get("/api/v1/users/me", headers=auth(token))).status_code == 401
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": "leaving@example.com", "password": user["password"]},
        )
        assert login.status_code == 401
        # The other user is untouched.
        assert (await client.get("/api/v1/users/me", headers=auth(other))).status_code == 200
        await client.post(f"/api/v1/conversations/{others}/end", headers=auth(other))
        await no_bots_left(app)


def _only_bot_left(app: FastAPI, conversation_id: str) -> None:
    assert runner(app).active_count == 1
    assert uuid.UUID(conversation_id) in runner(app)
