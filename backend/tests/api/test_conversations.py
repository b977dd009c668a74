"""POST /conversations/start, end, get and list, on the local room provider."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.core.clock import utcnow
from src.core.security import ACCESS_AUDIENCE, ROOM_AUDIENCE, encode_token
from src.core.settings import Settings
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
from tests.conftest import TEST_SECRET, auth, make_settings
from tests.fakes.bots import CRASH, JOIN, ScriptedBot


class TestStart:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/conversations/start")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "not_authenticated"

    async def test_subject_that_is_not_a_uuid_is_400(self, client: httpx.AsyncClient) -> None:
        token = encode_token(
            {"sub": "someone"},
            secret=TEST_SECRET,
            audience=ACCESS_AUDIENCE,
            expires_at=utcnow() + timedelta(minutes=5),
        )
        response = await start(client, token)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_token_subject"

    async def test_starts_a_room_and_a_bot(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        response = await start(client, await user_token(client, full_name="Ada Lovelace"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {
            "conversation_id",
            "daily_room_url",
            "daily_token",
            "status",
            "expires_at",
            "ice_servers",
        }
        assert body["ice_servers"] == []  # none configured
        assert body["status"] == "waiting_for_user"
        conversation_id = uuid.UUID(body["conversation_id"])
        stored = await row(app, conversation_id)
        room_name = f"conv-{conversation_id.hex}"
        assert stored.daily_room_id == room_name
        assert stored.status == "waiting_for_user"
        assert stored.bot_ready_at is not None
        assert stored.ended_at is None
        assert body["daily_room_url"] == f"http://testserver/rooms/{room_name}"
        claims = jwt.decode(
            body["daily_token"], TEST_SECRET, algorithms=["HS256"], audience=ROOM_AUDIENCE
        )
        assert claims["room"] == room_name
        assert claims["role"] == "user"
        # The bot's token never leaves the server.
        ctx = bot.contexts[conversation_id]
        assert ctx.job.bot_token != body["daily_token"]
        assert ctx.job.bot_token not in response.text
        assert ctx.job.user_first_name == "Ada"
        assert room_name in services(app).rooms.room_names()  # type: ignore[attr-defined]
        assert conversation_id in runner(app)

    async def test_five_concurrent_starts_are_independent(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        tokens = [await user_token(client) for _ in range(5)]
        responses = await asyncio.gather(*(start(client, token) for token in tokens))
        assert [r.status_code for r in responses] == [200] * 5
        ids = {uuid.UUID(r.json()["conversation_id"]) for r in responses}
        assert len(ids) == 5
        assert len({r.json()["daily_room_url"] for r in responses}) == 5
        assert set(bot.contexts) == ids
        assert runner(app).active_count == 5
        # Each bot gets only its own user's connection.
        first = ids.pop()
        deliver(app, first, "peer-1")
        await eventually(lambda: _assert_equal(bot.connections, {first: ["peer-1"]}))


def _assert_equal(a: object, b: object) -> None:
    assert a == b


class TestStartFailures:
    @pytest.fixture
    def bot(self) -> ScriptedBot:
        return ScriptedBot(fail_on_start=True)

    async def test_bot_start_failure_is_500_and_leaves_nothing_running(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        response = await start(client, await user_token(client))
        assert response.status_code == 500
        body = response.json()
        assert body["error"] == "conversation_start_failed"
        assert "voice bot could not be started" in body["detail"]
        assert "speech models" not in body["detail"]  # internals stay in the logs
        (stored,) = await all_rows(app)
        assert (stored.status, stored.end_reason) == ("failed", "bot_error")
        assert stored.ended_at is not None
        assert stored.duration_seconds is not None
        assert stored.room_deleted_at is not None
        assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]
        assert runner(app).active_count == 0


class TestStartNeverReady:
    @pytest.fixture
    def bot(self) -> ScriptedBot:
        return ScriptedBot(never_ready=True)

    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, bot_ready_timeout_seconds=0.3)

    async def test_a_bot_that_hangs_while_starting_is_stopped(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        response = await start(client, await user_token(client))
        assert response.status_code == 500
        (stored,) = await all_rows(app)
        assert (stored.status, stored.end_reason) == ("failed", "bot_error")
        assert bot.cancelled == {stored.id}
        assert runner(app).active_count == 0


class TestBotCrash:
    async def test_a_bot_crashing_mid_call_fails_the_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)
        await eventually(lambda: _assert_status(app, conversation_id, "active"))
        deliver(app, conversation_id, CRASH)
        await eventually(lambda: _assert_status(app, conversation_id, "failed"))
        stored = await row(app, conversation_id)
        assert stored.end_reason == "bot_error"
        assert stored.user_joined_at is not None
        await eventually(lambda: _assert_equal(runner(app).active_count, 0))
        assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]


async def _assert_status(app: FastAPI, conversation_id: str, status: str) -> None:
    assert (await row(app, conversation_id)).status == status


class TestLimits:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, max_active_conversations_per_user=2, max_bots=3)

    async def test_per_user_limit_is_429_before_any_room(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        assert [(await start(client, token)).status_code for _ in range(2)] == [200, 200]
        refused = await start(client, token)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"
        assert refused.json()["error"] == "too_many_conversations"
        assert len(services(app).rooms.room_names()) == 2  # type: ignore[attr-defined]
        assert len(await all_rows(app)) == 2

    async def test_per_process_bot_limit_is_503(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        tokens = [await user_token(client) for _ in range(4)]
        answers = await asyncio.gather(*(start(client, token) for token in tokens))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 503]
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["retry-after"] == "10"
        assert refused.json()["error"] == "bot_capacity_reached"
        assert len(await all_rows(app)) == 3
        assert len(services(app).rooms.room_names()) == 3  # type: ignore[attr-defined]

    async def test_a_bot_holds_its_slot_until_it_has_ended(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        admission = runner(app).admission
        assert admission.held == 1
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200
        await no_bots_left(app)
        assert admission.held == 0


class TestIdempotency:
    async def test_same_key_replays_the_first_answer(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        first = await start(client, token, **{"Idempotency-Key": "k-1"})
        again = await start(client, token, **{"Idempotency-Key": "k-1"})
        other = await start(client, token, **{"Idempotency-Key": "k-2"})
        assert first.status_code == again.status_code == other.status_code == 200
        assert first.json() == again.json()
        assert other.json()["conversation_id"] != first.json()["conversation_id"]
        assert len(await all_rows(app)) == 2

    async def test_racing_twins_start_one_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        twins = await asyncio.gather(
            *(start(client, token, **{"Idempotency-Key": "same"}) for _ in range(3))
        )
        assert [t.status_code for t in twins] == [200, 200, 200]
        assert len({t.json()["conversation_id"] for t in twins}) == 1
        assert len(await all_rows(app)) == 1

    async def test_keys_are_per_user(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        a = await start(client, await user_token(client), **{"Idempotency-Key": "k"})
        b = await start(client, await user_token(client), **{"Idempotency-Key": "k"})
        assert a.json()["conversation_id"] != b.json()["conversation_id"]


class TestEnd:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(f"/api/v1/conversations/{uuid.uuid4()}/end")
        assert response.status_code == 401

    async def test_ends_stops_the_bot_and_deletes_the_room(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200, ended.text
        body = ended.json()
        assert (body["status"], body["end_reason"]) == ("ended", "user_ended")
        assert body["ended_at"] is not None
        assert body["duration_seconds"] is not None
        assert bot.cancelled == {uuid.UUID(conversation_id)}
        assert runner(app).active_count == 0
        assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]
        stored = await row(app, conversation_id)
        assert stored.end_reason == "user_ended"
        assert stored.room_deleted_at is not None
        again = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert again.status_code == 409
        assert again.json()["error"] == "conversation_already_ended"

    async def test_another_users_conversation_is_404(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        intruder = await user_token(client)
        for method, path in [("POST", f"/{conversation_id}/end"), ("GET", f"/{conversation_id}")]:
            response = await client.request(
                method, f"/api/v1/conversations{path}", headers=auth(intruder)
            )
            assert response.status_code == 404
            assert response.json()["error"] == "conversation_not_found"
        assert (await row(app, conversation_id)).status == "waiting_for_user"


class TestGetAndList:
    async def test_get_and_list_newest_first(self, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        ids = [(await start(client, token)).json()["conversation_id"] for _ in range(3)]
        await user_token(client)  # someone else's conversations are not listed
        got = await client.get(f"/api/v1/conversations/{ids[0]}", headers=auth(token))
        assert got.status_code == 200
        assert got.json()["id"] == ids[0]
        assert got.json()["status"] == "waiting_for_user"
        page = await client.get("/api/v1/conversations?limit=2&offset=0", headers=auth(token))
        assert page.status_code == 200
        assert page.json()["total"] == 3
        assert [c["id"] for c in page.json()["items"]] == [ids[2], ids[1]]
        rest = await client.get("/api/v1/conversations?limit=2&offset=2", headers=auth(token))
        assert [c["id"] for c in rest.json()["items"]] == [ids[0]]
        bad = await client.get("/api/v1/conversations?limit=1000", headers=auth(token))
        assert bad.status_code == 422
        # Found by schemathesis: an offset past the database's integer range was a 500.
        huge = await client.get(f"/api/v1/conversations?offset={10**30}", headers=auth(token))
        assert huge.status_code == 422
        assert huge.json()["fields"][0]["field"] == "query.offset"
        far = await client.get("/api/v1/conversations?offset=1000000", headers=auth(token))
        assert far.json() == {"items": [], "total": 3}
        missing = await client.get("/api/v1/conversations/not-a-uuid", headers=auth(token))
        assert missing.status_code == 422
