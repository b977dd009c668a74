"""GET /conversations/{id}/events: the live status as Server-Sent Events, owner only.

Served by uvicorn on loopback (an in-memory ASGI transport would hold the body until the end).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from src.core.clock import utcnow
from src.core.security import ACCESS_AUDIENCE, TOKEN_VERSION_CLAIM, encode_token
from src.core.settings import Settings
from src.services.conversations import events
from tests.api.conversation_helpers import deliver, eventually, start, user_token
from tests.api.sse import sse_events
from tests.conftest import TEST_SECRET, auth, make_settings, register
from tests.fakes.bots import GOODBYE, JOIN, SAID
from tests.fakes.loopback import serve_on_loopback


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_on_loopback(app) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


async def _next(stream: AsyncIterator[tuple[str, Any]], skip_comments: bool = True) -> Any:
    async with asyncio.timeout(20):
        while True:
            name, data = await anext(stream)
            if name != "comment" or not skip_comments:
                return name, data


@asynccontextmanager
async def _following_a_new_conversation(
    client: httpx.AsyncClient, served: httpx.AsyncClient
) -> AsyncIterator[tuple[str, str, str, AsyncIterator[tuple[str, Any]]]]:
    """A new user's new conversation followed: (their token, its id, the stream's URL, its
    events), its first status (waiting for the user) already read."""
    token = await user_token(client)
    conversation_id = (await start(client, token)).json()["conversation_id"]
    url = f"/api/v1/conversations/{conversation_id}/events"
    async with served.stream("GET", url, headers=auth(token)) as response:
        stream = aiter(sse_events(response))
        assert (await _next(stream))[1]["status"] == "waiting_for_user"
        yield token, conversation_id, url, stream


class TestEvents:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/api/v1/conversations/{uuid.uuid4()}/events")
        assert response.status_code == 401

    async def test_another_user_s_is_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        response = await client.get(
            f"/api/v1/conversations/{conversation_id}/events",
            headers=auth(await user_token(client)),
        )
        assert response.status_code == 404
        assert response.json()["error"] == "conversation_not_found"

    async def test_an_unknown_one_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            f"/api/v1/conversations/{uuid.uuid4()}/events",
            headers=auth(await user_token(client)),
        )
        assert response.status_code == 404

    async def test_status_then_every_change_in_order_then_closed(
        self, app: FastAPI, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with served.stream("GET", url, headers=auth(token)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            stream = aiter(sse_events(response))
            assert await _next(stream) == (
                "status",
                {"status": "waiting_for_user", "end_reason": None, "messages": 0},
            )
            deliver(app, conversation_id, JOIN)
            assert await _next(stream) == (
                "status",
                {"status": "active", "end_reason": None, "messages": 0},
            )
            deliver(app, conversation_id, (SAID, "assistant", "Hello Ada!"))
            deliver(app, conversation_id, (SAID, "user", "What is my life path number?"))
            first, second = await _next(stream), await _next(stream)
            assert [(n, d["role"], d["text"]) for n, d in (first, second)] == [
                ("message", "assistant", "Hello Ada!"),
                ("message", "user", "What is my life path number?"),
            ]
            # The farewell is stored before the end, and sent before it.
            deliver(app, conversation_id, (SAID, "assistant", "Goodbye Ada!"))
            deliver(app, conversation_id, GOODBYE)
            name, line = await _next(stream)
            assert (name, line["text"]) == ("message", "Goodbye Ada!")
            assert await _next(stream) == (
                "status",
                {"status": "ended", "end_reason": "user_ended", "messages": 3},
            )
            rest = [event async for event in stream]
        assert rest == []  # closed after the end

    async def test_an_end_request_is_sent_and_closes_the_stream(
        self, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        async with _following_a_new_conversation(client, served) as (
            token,
            conversation_id,
            _url,
            stream,
        ):
            await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
            assert await _next(stream) == (
                "status",
                {"status": "ended", "end_reason": "user_ended", "messages": 0},
            )
            assert [event async for event in stream] == []

    async def test_an_ended_conversation_sends_its_end_and_closes(
        self, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with served.stream("GET", url, headers=auth(token)) as response:
            received = [event async for event in sse_events(response)]
        assert received == [
            ("status", {"status": "ended", "end_reason": "user_ended", "messages": 0})
        ]

    async def test_an_idle_stream_sends_heartbeat_comments(
        self,
        client: httpx.AsyncClient,
        served: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 1.0)
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with served.stream("GET", url, headers=auth(token)) as response:
            stream = aiter(sse_events(response))
            assert (await _next(stream))[0] == "status"
            assert await _next(stream, skip_comments=False) == ("comment", "ping")


def feeds(app: FastAPI) -> events.ConversationFeeds:
    return app.state.feeds  # type: ignore[no-any-return]


class TestBounds:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, max_event_streams_per_user=2)

    async def test_a_user_s_streams_past_the_cap_are_429_and_a_closed_one_frees_its_slot(
        self, app: FastAPI, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with AsyncExitStack() as streams:
            for _ in range(2):
                response = await streams.enter_async_context(
                    served.stream("GET", url, headers=auth(token))
                )
                assert response.status_code == 200
            refused = await served.get(url, headers=auth(token))
            assert refused.status_code == 429
            assert refused.json()["error"] == "too_many_event_streams"
            assert "retry-after" in refused.headers
            # Another user is not counted with this one.
            other = await user_token(client)
            other_id = (await start(client, other)).json()["conversation_id"]
            other_url = f"/api/v1/conversations/{other_id}/events"
            async with served.stream("GET", other_url, headers=auth(other)) as theirs:
                assert theirs.status_code == 200
        # Both closed by the client: their slots come back.

        async def opens() -> None:
            async with served.stream("GET", url, headers=auth(token)) as again:
                assert again.status_code == 200

        await eventually(opens)

    async def test_streams_of_one_conversation_share_one_poller(
        self, app: FastAPI, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with (
            served.stream("GET", url, headers=auth(token)) as first,
            served.stream("GET", url, headers=auth(token)) as second,
        ):
            a, b = aiter(sse_events(first)), aiter(sse_events(second))
            assert (await _next(a))[1]["status"] == (await _next(b))[1]["status"]
            assert feeds(app).pollers() == 1
            deliver(app, conversation_id, JOIN)
            deliver(app, conversation_id, (SAID, "assistant", "Hello Ada!"))
            # The same news in the same order on both (one poll may carry both).
            news = [[await _next(stream), await _next(stream)] for stream in (a, b)]
            assert news[0] == news[1]
            assert {n for n, _ in news[0]} == {"status", "message"}
            assert feeds(app).pollers() == 1

        # Nobody follows it any more: its poller stops.
        async def stopped() -> None:
            assert feeds(app).pollers() == 0

        await eventually(stopped)

    async def test_a_stream_closes_when_its_access_token_expires(
        self, app: FastAPI, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        conversation_id = (await start(client, user["access_token"])).json()["conversation_id"]
        # The same claims as the user's token (its version too), expiring in 3 s.
        claims = jwt.decode(user["access_token"], options={"verify_signature": False})
        short = encode_token(
            {"sub": claims["sub"], TOKEN_VERSION_CLAIM: claims[TOKEN_VERSION_CLAIM]},
            secret=TEST_SECRET,
            audience=ACCESS_AUDIENCE,
            expires_at=utcnow() + timedelta(seconds=3),
        )
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with served.stream("GET", url, headers=auth(short)) as response:
            assert response.status_code == 200
            stream = aiter(sse_events(response))
            assert (await _next(stream))[1]["status"] == "waiting_for_user"
            name, data = await _next(stream)
            assert (name, data["error"]) == ("expired", "token_expired")
            assert [event async for event in stream] == []
        # The conversation goes on; only the stream ended.
        answer = await client.get(
            f"/api/v1/conversations/{conversation_id}", headers=auth(user["access_token"])
        )
        assert answer.json()["status"] == "waiting_for_user"

    async def test_signing_out_closes_the_user_s_streams_with_token_revoked(
        self, client: httpx.AsyncClient, served: httpx.AsyncClient
    ) -> None:
        async with _following_a_new_conversation(client, served) as (token, _id, url, stream):
            signed_out = await client.post("/api/v1/auth/logout", headers=auth(token))
            assert signed_out.status_code == 204
            name, data = await _next(stream)  # within a poll, not at the token's expiry
            assert (name, data["error"]) == ("expired", "token_revoked")
            assert [event async for event in stream] == []
        # The revoked token opens no new stream.
        assert (await served.get(url, headers=auth(token))).status_code == 401


async def test_the_openapi_document_describes_the_event_stream(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/conversations/{conversation_id}/events"]["get"]
    assert operation["description"].startswith("Follow one of your conversations live")
    assert {"200", "401", "404"} <= set(operation["responses"])
    stream = operation["responses"]["200"]["content"]["text/event-stream"]
    assert "event: status" in stream["example"]
    assert "application/json" not in operation["responses"]["200"]["content"]
