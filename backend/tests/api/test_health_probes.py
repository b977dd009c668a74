"""The orchestrators' probes: /health/live (the process) and /health/ready (its dependencies)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis

from src.core.settings import Settings
from src.main import create_app
from src.services.bots import protocol
from src.services.bots.wire import Heartbeat
from tests.conftest import make_settings
from tests.fakes.bots import ScriptedBot

# Port 1 on loopback: nothing listens there, a connection is refused at once.
NO_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
NO_REDIS = "redis://127.0.0.1:1/0"


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, run_bot=ScriptedBot())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


class TestLive:
    async def test_answers_without_touching_the_database(self) -> None:
        async with _client(make_settings(NO_DATABASE)) as client:
            response = await client.get("/health/live")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReady:
    async def test_ready_with_the_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}

    async def test_not_ready_without_the_database(self) -> None:
        async with _client(make_settings(NO_DATABASE)) as client:
            response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "error": "not_ready",
            "detail": "The database does not answer: check DATABASE_URL and the server.",
        }

    async def test_not_ready_without_redis_in_the_worker_mode(self, clean_db: str) -> None:
        async with _client(make_settings(clean_db, redis_url=NO_REDIS)) as client:
            response = await client.get("/health/ready")
            assert (await client.get("/health/live")).status_code == 200
        assert response.status_code == 503
        assert response.json() == {
            "error": "not_ready",
            "detail": "Redis does not answer: check REDIS_URL and the server.",
        }

    async def test_health_is_unchanged(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/health")).json()
        assert body["status"] == "ok"
        assert body["database"] == "ok"


async def _beat(redis_url: str, prefix: str, *, bots: int, draining: bool = False) -> None:
    """A worker's heartbeat, written as a worker writes it."""
    redis = Redis.from_url(redis_url)
    try:
        beat = Heartbeat(
            id="w1",
            host="h",
            pid=1,
            bots=bots,
            capacity=2,
            load=0.0,
            draining=draining,
            at=time.time(),
        )
        await protocol.beat(redis, protocol.RedisKeys(prefix), beat)
    finally:
        await redis.aclose()


class TestReadyWaitsForAWorker:
    """READY_REQUIRES_WORKER (what `make run` sets when it starts the workers): not ready until
    a worker takes calls, so no start gets 503 no_bot_capacity while the workers load."""

    async def test_not_ready_until_a_worker_takes_calls(
        self, clean_db: str, redis_url: str, prefix: str
    ) -> None:
        settings = make_settings(
            clean_db, redis_url=redis_url, redis_prefix=prefix, ready_requires_worker=True
        )
        async with _client(settings) as client:
            none_yet = await client.get("/health/ready")
            await _beat(redis_url, prefix, bots=2)  # full
            full = await client.get("/health/ready")
            await _beat(redis_url, prefix, bots=1, draining=True)
            draining = await client.get("/health/ready")
            await _beat(redis_url, prefix, bots=1)
            taking = await client.get("/health/ready")
        for refused in (none_yet, full, draining):
            assert refused.status_code == 503
            assert refused.json()["error"] == "not_ready"
            assert refused.json()["detail"].startswith("No worker takes calls yet")
        assert taking.status_code == 200
        assert taking.json() == {"status": "ok", "database": "ok", "redis": "ok", "workers": "ok"}

    async def test_an_api_alone_does_not_wait(
        self, clean_db: str, redis_url: str, prefix: str
    ) -> None:
        settings = make_settings(clean_db, redis_url=redis_url, redis_prefix=prefix)
        async with _client(settings) as client:
            response = await client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
