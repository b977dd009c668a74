"""Calls through real worker processes: the greeting, worker death, drain, a call handed over."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.services.bots import protocol
from src.services.bots.protocol import RedisKeys
from src.services.bots.wire import Heartbeat
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, row, start, user_token
from tests.conftest import auth, register
from tests.voice.conftest import models, transcribe  # noqa: F401  (the session fixture)
from tests.voice.peer import Peer, rms
from tests.workers.processes import WorkerProc

pytestmark = pytest.mark.postgresql_only

ReadyWorker = Callable[..., Awaitable[WorkerProc]]


@asynccontextmanager
async def _greeted_call(
    client: httpx.AsyncClient, name: str = "Grace Hopper"
) -> AsyncIterator[tuple[dict[str, Any], str, Peer, Any]]:
    """A call whose user has heard the greeting (yielded too); the peer hangs up at the end."""
    user = await register(client, full_name=name)
    started = await start(client, user["access_token"])
    assert started.status_code == 200, started.text
    body = started.json()
    peer = Peer()
    peer.start_pings()
    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
        greeting = await peer.utterance(peer.offer_sent_at)
        yield body, user["access_token"], peer, greeting
    finally:
        await peer.close()


async def _ended_as(app: FastAPI, conversation_id: str, status: str, reason: str) -> None:
    stored = await row(app, conversation_id)
    assert (stored.status, stored.end_reason) == (status, reason)
    assert stored.room_deleted_at is not None


async def _bots(worker: WorkerProc, redis: Redis, prefix: str, count: int) -> None:
    beat = await worker.alive(redis, prefix, within=1)
    assert beat["bots"] == count


async def _draining(worker: WorkerProc, redis: Redis, prefix: str) -> None:
    beat = await worker.alive(redis, prefix, within=1)
    assert beat["draining"] is True


async def test_the_greeting_is_heard_through_a_worker(
    app: FastAPI,
    client: httpx.AsyncClient,
    ready_worker: ReadyWorker,
    redis: Redis,
    prefix: str,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    worker = await ready_worker()
    async with _greeted_call(client, "Grace Hopper") as (body, token, _peer, greeting):
        stored = await row(app, body["conversation_id"])
    assert rms(greeting) > 500
    heard = await transcribe(models, greeting)
    assert "grace" in heard.lower(), heard
    assert stored.worker_id == worker.id
    assert stored.user_joined_at is not None
    # The peer hung up: the worker records the end itself, and the greeting in the transcript.
    await eventually(
        lambda: _ended_as(app, body["conversation_id"], "ended", "user_left"), within=20
    )
    await eventually(lambda: _bots(worker, redis, prefix, 0), within=5)
    lines = await client.get(
        f"/api/v1/conversations/{body['conversation_id']}/messages", headers=auth(token)
    )
    first = lines.json()["items"][0]
    assert first["role"] == "assistant"
    assert first["text"].startswith("Hello Grace!"), first


async def test_end_reaches_the_worker_and_stops_the_bot(
    app: FastAPI, client: httpx.AsyncClient, ready_worker: ReadyWorker, redis: Redis, prefix: str
) -> None:
    worker = await ready_worker()
    async with _greeted_call(client) as (body, token, _peer, _greeting):
        await eventually(lambda: _bots(worker, redis, prefix, 1), within=5)
        ended = await client.post(
            f"/api/v1/conversations/{body['conversation_id']}/end", headers=auth(token)
        )
        assert ended.status_code == 200
        await eventually(lambda: _bots(worker, redis, prefix, 0), within=5)
        await _ended_as(app, body["conversation_id"], "ended", "user_ended")
        # The room's media is gone from the worker: a new offer is refused.
        again = await Peer().pc.createOffer()
        refused = await client.post(
            f"/api/v1/rooms/{body['daily_room_url'].rsplit('/', 1)[1]}/offer",
            json={"sdp": again.sdp, "type": "offer"},
            headers=auth(body["daily_token"]),
        )
        assert refused.status_code == 410


async def test_a_killed_worker_s_calls_end_as_worker_lost_within_10_s(
    app: FastAPI, client: httpx.AsyncClient, ready_worker: ReadyWorker
) -> None:
    worker = await ready_worker()
    async with _greeted_call(client) as (body, _token, _peer, _greeting):
        worker.signal(signal.SIGKILL)
        killed = time.monotonic()
        await eventually(
            lambda: _ended_as(app, body["conversation_id"], "failed", "worker_lost"), within=10
        )
        lost_after = time.monotonic() - killed
        print(f"\nworker SIGKILL -> conversation ended as worker_lost in {lost_after:.1f} s")


async def test_a_call_a_worker_read_and_never_started_is_handed_to_another(
    app: FastAPI,
    client: httpx.AsyncClient,
    ready_worker: ReadyWorker,
    redis: Redis,
    prefix: str,
    settings: Settings,
) -> None:
    # A worker that dies right after reading a call: it read the entry and never took it.
    calls = f"{prefix}calls"
    await redis.xgroup_create(calls, "bots", id="0", mkstream=True)
    beat = Heartbeat("dying-worker", "host", 1, 0, 1, 0.0, False, time.time())
    await protocol.beat(redis, RedisKeys(prefix), beat)
    settings.dispatch_timeout_seconds = 30.0

    async def read_and_die() -> None:
        while not await redis.xreadgroup("bots", "dying-worker", {calls: ">"}, count=1, block=100):
            pass

    dying = asyncio.create_task(read_and_die())
    starting = asyncio.create_task(start(client, await user_token(client)))
    await asyncio.wait_for(dying, 10)
    await redis.delete(f"{prefix}alive:dying-worker")  # it died
    worker = await ready_worker()
    response = await asyncio.wait_for(starting, 30)
    assert response.status_code == 200, response.text
    stored = await row(app, response.json()["conversation_id"])
    assert stored.worker_id == worker.id
    assert stored.status == "waiting_for_user"


async def test_sigterm_drains_the_live_calls_then_exits_0(
    app: FastAPI, client: httpx.AsyncClient, ready_worker: ReadyWorker, redis: Redis, prefix: str
) -> None:
    worker = await ready_worker()
    async with _greeted_call(client) as (body, token, _peer, _greeting):
        worker.signal(signal.SIGTERM)
        await eventually(lambda: _draining(worker, redis, prefix), within=5)
        # No new call goes to a draining worker.
        refused = await start(client, await user_token(client))
        assert refused.status_code == 503
        assert refused.json()["error"] == "no_bot_capacity", refused.text
        # The live call goes on.
        await asyncio.sleep(2)
        assert (await row(app, body["conversation_id"])).status == "active"
        assert worker.popen.poll() is None
        ended = await client.post(
            f"/api/v1/conversations/{body['conversation_id']}/end", headers=auth(token)
        )
        assert ended.status_code == 200
        assert await worker.wait(30) == 0
        await _ended_as(app, body["conversation_id"], "ended", "user_ended")


async def test_a_drain_that_times_out_ends_the_calls_as_server_shutdown(
    app: FastAPI, client: httpx.AsyncClient, ready_worker: ReadyWorker
) -> None:
    worker = await ready_worker(drain_timeout_seconds=1)
    async with _greeted_call(client) as (body, _token, _peer, _greeting):
        worker.signal(signal.SIGTERM)
        assert await worker.wait(30) == 0
        await _ended_as(app, body["conversation_id"], "ended", "server_shutdown")
