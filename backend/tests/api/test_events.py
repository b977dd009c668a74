"""GET /conversations/{id}/events: the live status as Server-Sent Events, owner only.

Served by uvicorn on loopback (an in-memory ASGI transport would hold the body until the end).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.services.conversations import events
from tests.api.conversation_helpers import deliver, start, user_token
from tests.api.sse import sse_events
from tests.conftest import auth
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
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        url = f"/api/v1/conversations/{conversation_id}/events"
        async with served.stream("GET", url, headers=auth(token)) as response:
            stream = aiter(sse_events(response))
            assert (await _next(stream))[1]["status"] == "waiting_for_user"
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


async def test_the_openapi_document_describes_the_event_stream(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/conversations/{conversation_id}/events"]["get"]
    assert operation["description"].startswith("Follow one of your conversations live")
    assert {"200", "401", "404"} <= set(operation["responses"])
    stream = operation["responses"]["200"]["content"]["text/event-stream"]
    assert "event: status" in stream["example"]
    assert "application/json" not in operation["responses"]["200"]["content"]
