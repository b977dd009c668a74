"""tests/voice/test_unable_bot.py through a real worker process: the bot whose recogniser
Deepgram refuses runs in the worker, which ends the call (`failed`, `bot_error`) after telling
the page in one plain sentence; the API's conversation and the worker's bots agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from tests.api.conversation_helpers import eventually
from tests.fakes.deepgram import (
    REFUSED_KEY,
    RefusingDeepgram,
    refused_settings,
    refusing_deepgram,  # noqa: F401  (the fixture)
)
from tests.voice.calls import a_call_the_bot_cannot_hear
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
    await a_call_the_bot_cannot_hear(app, client)

    async def no_bots() -> None:
        assert (await worker.alive(redis, prefix, within=1))["bots"] == 0

    assert refusing_deepgram.handshakes, "the worker's recogniser never asked Deepgram"
    await eventually(no_bots, within=10)
    log = worker.log.read_text(errors="replace")
    assert "can no longer hear or speak" in log
    assert REFUSED_KEY not in log
