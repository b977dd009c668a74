"""Several API processes, an API killed mid-call, Redis stopped mid-call: calls go on."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import date

import httpx
import pytest
from redis.asyncio import Redis

from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, start
from tests.conftest import auth, register
from tests.kit.speech import answer_to
from tests.voice.conftest import models, synthesise, transcribe  # noqa: F401
from tests.voice.peer import RATE, Peer
from tests.workers.processes import ApiProc, PrivateRedis, WorkerProc
from tests.workers.test_calls import _bots

pytestmark = pytest.mark.postgresql_only

BIRTH = date(1990, 7, 15)


async def _get(client: httpx.AsyncClient, token: str, conversation_id: str) -> dict[str, str]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _answered(peer: Peer, speech_models: speech.SpeechModels) -> None:
    """Ask a question; the bot must hear it and answer aloud (the call is alive end to end)."""
    lines_before = len(_lines(peer))
    answer = await answer_to(peer, speech_models)
    assert len(answer) >= RATE // 2, "the answer is shorter than half a second"
    roles = [role for role, _text in _lines(peer)[lines_before:]]
    assert roles[:2] == ["user", "bot"], _lines(peer)
    assert (await transcribe(speech_models, answer)).strip()


def _lines(peer: Peer) -> list[tuple[str, str]]:
    return [(m["role"], m["text"]) for m in peer.messages if m.get("type") == "transcript"]


async def _call(api: httpx.AsyncClient, other: httpx.AsyncClient) -> tuple[str, str, Peer]:
    """Start on `api`, connect through `other`; the conversation id, token and the peer."""
    user = await register(api, full_name="Ada Lovelace", birth_date=BIRTH)
    started = await start(api, user["access_token"])
    assert started.status_code == 200, started.text
    body = started.json()
    peer = Peer()
    peer.start_pings()
    await peer.connect(other, body["daily_room_url"], body["daily_token"])
    await peer.utterance(peer.offer_sent_at)  # the greeting
    return body["conversation_id"], user["access_token"], peer


async def test_start_on_one_api_offer_and_end_on_another(
    spawn_api: Callable[..., ApiProc],
    spawn_worker: Callable[..., WorkerProc],
    redis: Redis,
    prefix: str,
) -> None:
    first, second = spawn_api(), spawn_api()
    worker = spawn_worker()
    await asyncio.gather(first.ready(), second.ready(), worker.alive(redis, prefix))
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as a,
        httpx.AsyncClient(base_url=second.url, timeout=30) as b,
    ):
        conversation_id, token, peer = await _call(a, b)
        try:
            assert (await _get(b, token, conversation_id))["status"] == "active"
            ended = await b.post(
                f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
            )
            assert ended.status_code == 200
            assert ended.json()["end_reason"] == "user_ended"
            await eventually(lambda: _bots(worker, redis, prefix, 0), within=5)
        finally:
            await peer.close()


async def test_an_api_killed_and_restarted_mid_call_leaves_the_call_going(
    spawn_api: Callable[..., ApiProc],
    spawn_worker: Callable[..., WorkerProc],
    redis: Redis,
    prefix: str,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    api, worker = spawn_api(), spawn_worker()
    await asyncio.gather(api.ready(), worker.alive(redis, prefix))
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        conversation_id, token, peer = await _call(client, client)
        try:
            api.signal(signal.SIGKILL)
            await api.wait()
            restarted = spawn_api(port=api.port)
            await restarted.ready()
            assert (await _get(client, token, conversation_id))["status"] == "active"
            await _answered(peer, models)
            ended = await client.post(
                f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
            )
            assert ended.json()["end_reason"] == "user_ended"
        finally:
            await peer.close()


async def test_redis_stopped_mid_call_the_call_goes_on_and_all_recovers(
    spawn_api: Callable[..., ApiProc],
    spawn_worker: Callable[..., WorkerProc],
    private_redis: Callable[..., PrivateRedis],
    prefix: str,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    server = private_redis()
    await server.ready()
    api, worker = spawn_api(url=server.url), spawn_worker(url=server.url)
    redis = Redis.from_url(server.url)
    try:
        await asyncio.gather(api.ready(), worker.alive(redis, prefix))
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            conversation_id, token, peer = await _call(client, client)
            try:
                server.popen.kill()
                await server.wait()
                # Media does not cross Redis: the call goes on, starts are refused.
                await _answered(peer, models)
                refused = await start(client, token)
                assert refused.status_code == 503
                assert refused.json()["error"] == "bot_service_unavailable"
                await asyncio.sleep(6)  # longer than a heartbeat's life: nobody is reaped
                assert (await _get(client, token, conversation_id))["status"] == "active"
                # Redis comes back empty: everything works again.
                back = private_redis(port=server.port)
                await back.ready()
                await redis.aclose()
                redis = Redis.from_url(server.url)
                await worker.alive(redis, prefix, within=10)
                second = await start(client, token)
                assert second.status_code == 200, second.text
                for conversation in (conversation_id, second.json()["conversation_id"]):
                    ended = await client.post(
                        f"/api/v1/conversations/{conversation}/end", headers=auth(token)
                    )
                    assert ended.status_code == 200, ended.text
                    assert ended.json()["end_reason"] == "user_ended"
                await eventually(lambda: _bots(worker, redis, prefix, 0), within=5)
            finally:
                await peer.close()
    finally:
        await redis.aclose()
