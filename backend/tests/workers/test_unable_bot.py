"""tests/voice/test_unable_bot.py through a real worker process: the bot whose recogniser
Deepgram refuses runs in the worker, which ends the call (`failed`, `bot_error`) after telling
the page in one plain sentence; the API's conversation and the worker's bots agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.api.conversation_helpers import eventually, row, start
from tests.conftest import register
from tests.fakes.deepgram import (
    REFUSED_KEY,
    RefusingDeepgram,
    refused_settings,
    refusing_deepgram,  # noqa: F401  (the fixture)
)
from tests.voice.calls import client_ready, told_once
from tests.voice.peer import Peer
from tests.workers.processes import WorkerProc

pytestmark = pytest.mark.postgresql_only


async def test_a_worker_s_bot_that_can_no_longer_hear_ends_its_call(
    app: FastAPI,
    client: httpx.AsyncClient,
    ready_worker: Callable[..., Awaitable[WorkerProc]],
    redis: Redis,
    prefix: str,
    refusing_deepgram: RefusingDeepgram,  # noqa: F811
) -> None:
    worker = await ready_worker(**refused_settings(refusing_deepgram))
    user = await register(client)
    started = await start(client, user["access_token"])
    assert started.status_code == 200, started.text
    body = started.json()
    peer = Peer()

    async def ended() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.end_reason) == ("failed", "bot_error")

    async def no_bots() -> None:
        assert (await worker.alive(redis, prefix, within=1))["bots"] == 0

    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
        await client_ready(peer)
        await eventually(ended, within=30)
        await eventually(lambda: told_once(peer), within=10)
    finally:
        await peer.close()
    assert refusing_deepgram.handshakes, "the worker's recogniser never asked Deepgram"
    await eventually(no_bots, within=10)
    log = worker.log.read_text(errors="replace")
    assert "can no longer hear or speak" in log
    assert REFUSED_KEY not in log
