"""The API in the worker mode, around dispatch: no worker, full workers, Redis unreachable."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.main import create_app
from src.services.bots.protocol import GROUP, RedisKeys
from tests.api.conversation_helpers import all_rows, eventually, row, start, user_token
from tests.conftest import auth, make_settings
from tests.workers.processes import WorkerProc, free_port

pytestmark = pytest.mark.postgresql_only


async def test_health_reports_the_worker_mode(client: httpx.AsyncClient) -> None:
    health = (await client.get("/health")).json()
    assert health["mode"] == "workers"
    assert (health["redis"], health["workers"], health["bots"]) == ("ok", 0, 0)


async def test_no_worker_running_answers_503_and_makes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await start(client, await user_token(client))
    assert response.status_code == 503
    assert response.json()["error"] == "no_bot_capacity"
    assert response.headers["Retry-After"] == "10"
    assert await all_rows(app) == []


async def test_redis_unreachable_answers_503_in_the_json_shape(clean_db: str) -> None:
    settings = make_settings(clean_db, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await start(client, await user_token(client))
            assert response.status_code == 503
            body = response.json()
            assert body["error"] == "bot_service_unavailable"
            assert "redis" not in body["detail"].lower()
            assert await all_rows(application) == []
            health = (await client.get("/health")).json()
            assert health["redis"] == "unreachable"


class TestAFullWorker:
    @pytest.fixture
    def settings(self, worker_settings: Settings) -> Settings:
        return worker_settings.model_copy(update={"dispatch_timeout_seconds": 1.0})

    async def test_a_call_no_worker_takes_fails_with_its_room_deleted(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        ready_worker: Callable[..., Awaitable[WorkerProc]],
        redis: Redis,
        prefix: str,
    ) -> None:
        worker = await ready_worker(max_bots_per_worker=1)
        token = await user_token(client)
        first = await start(client, token)
        assert first.status_code == 200, first.text
        stored = await row(app, first.json()["conversation_id"])
        assert stored.worker_id == worker.id
        second = await start(client, token)
        assert second.status_code == 503
        assert second.json()["error"] == "no_bot_capacity"
        assert second.headers["Retry-After"] == "10"
        failed = [r for r in await all_rows(app) if r.id != stored.id]
        assert [(r.status, r.end_reason) for r in failed] == [("failed", "no_bot_capacity")]
        assert failed[0].room_deleted_at is not None
        assert failed[0].worker_id is None
        # The refused call is never started later by a worker that gets room: once the first
        # call ends, the worker reads the refused call's entry, finds it decided (the API owns
        # it) and skips it.
        ended = await client.post(f"/api/v1/conversations/{stored.id}/end", headers=auth(token))
        assert ended.status_code == 200
        keys = RedisKeys(prefix)
        await eventually(lambda: _every_call_read_and_acked(redis, keys), within=20)
        await eventually(lambda: _skipped(worker, failed[0].id), within=5)
        assert await redis.get(keys.owner(failed[0].id)) == b"api:dispatch-timeout"
        refused = await row(app, failed[0].id)
        assert (refused.status, refused.worker_id) == ("failed", None)


async def _every_call_read_and_acked(redis: Redis, keys: RedisKeys) -> None:
    (group,) = [g for g in await redis.xinfo_groups(keys.calls) if g["name"] == GROUP.encode()]
    last = (await redis.xinfo_stream(keys.calls))["last-generated-id"]
    assert (group["last-delivered-id"], group["pending"]) == (last, 0), group


def _skipped(worker: WorkerProc, conversation_id: uuid.UUID) -> None:
    log = worker.log.read_text(errors="replace")
    assert f"conversation {conversation_id}: call already decided elsewhere, skipped" in log
