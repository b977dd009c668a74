"""A rejoin through a worker: the API forwards the new connection's offer to the worker that
runs the bot, which carries on; the live events (written by the worker) reach the API's stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, row
from tests.api.sse import sse_events
from tests.conftest import auth
from tests.fakes.loopback import serve_on_loopback
from tests.voice.conftest import models  # noqa: F401  (the session fixture)
from tests.voice.rejoin_helpers import (
    first_call,
    rejoin,
    waiting_for_rejoin,
    welcomed_back_with_context,
)
from tests.workers.processes import WorkerProc

pytestmark = pytest.mark.postgresql_only


async def _follow(http: httpx.AsyncClient, url: str, token: str, into: list[Any]) -> None:
    async with http.stream("GET", url, headers=auth(token)) as response:
        assert response.status_code == 200
        async for name, data in sse_events(response):
            if name != "comment":
                into.append((name, data))


async def test_a_rejoin_through_a_worker_carries_on_with_the_same_bot(
    app: FastAPI,
    client: httpx.AsyncClient,
    ready_worker: Callable[..., Awaitable[WorkerProc]],
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    worker = await ready_worker(bot_idle_timeout_seconds=2, rejoin_grace_seconds=20)
    received: list[Any] = []
    async with serve_on_loopback(app) as url, httpx.AsyncClient(base_url=url, timeout=None) as http:
        body, token, first, number = await first_call(client, models)
        events = f"/api/v1/conversations/{body['conversation_id']}/events"
        following = asyncio.create_task(_follow(http, events, token, received))
        await first.close()  # no goodbye, no Leave
        cid = body["conversation_id"]
        await eventually(lambda: waiting_for_rejoin(worker.log.read_text(errors="replace"), cid))
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.worker_id) == ("active", worker.id)
        second = await rejoin(app, client, body, token)
        try:
            await welcomed_back_with_context(app, client, models, body, second, number)
        finally:
            await second.close()
        await asyncio.wait_for(following, 20)  # the stream closes after the end
    statuses = [d["status"] for n, d in received if n == "status"]
    assert statuses == ["active", "ended"]
    assert received[-1] == (
        "status",
        {"status": "ended", "end_reason": "user_ended", "messages": received[-1][1]["messages"]},
    )
    lines = [d["text"] for n, d in received if n == "message"]
    assert any(line.startswith("Welcome back, Ada") for line in lines), lines
    assert lines[-1].startswith("Goodbye Ada"), lines
