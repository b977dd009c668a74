"""Fixtures for the worker mode: a real Redis, real worker processes, the API in worker mode.

Redis and each test's key prefix come from the `redis_url` and `prefix` fixtures of
tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.main import create_app
from tests.conftest import make_settings
from tests.kit.processes import stopped_at_the_end
from tests.workers.processes import ApiProc, PrivateRedis, WorkerProc, process_env

# Several processes share one database and one Redis in these tests: each module is marked
# postgresql_only, so the PostgreSQL pass runs them.


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the test Redis."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def worker_settings(clean_db: str, redis_url: str, prefix: str) -> Settings:
    """Settings of an API in the worker mode."""
    return make_settings(clean_db, redis_url=redis_url, redis_prefix=prefix)


@pytest.fixture
def settings(worker_settings: Settings) -> Settings:
    """The in-process app of these tests runs in the worker mode."""
    return worker_settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The API in the worker mode, in this process (it runs no bot)."""
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the in-process API."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Where the child processes write their output."""
    return tmp_path


@pytest.fixture
async def spawn_worker(
    clean_db: str, redis_url: str, prefix: str, logs: Path
) -> AsyncIterator[Callable[..., WorkerProc]]:
    """Start worker processes (killed at the end of the test): `spawn_worker(**settings)`."""

    def make(n: int, url: str | None = None, **extra: Any) -> WorkerProc:
        env = process_env(clean_db, url or redis_url, prefix, public_base_url="http://testserver")
        env.update({key.upper(): str(value) for key, value in extra.items()})
        return WorkerProc(env, logs / f"worker-{n}.log")

    async with stopped_at_the_end(make) as spawn:
        yield spawn


@pytest.fixture
def ready_worker(
    spawn_worker: Callable[..., WorkerProc], redis: Redis, prefix: str
) -> Callable[..., Awaitable[WorkerProc]]:
    """Start a worker process and wait until it takes calls: `await ready_worker(**settings)`."""

    async def start(**extra: Any) -> WorkerProc:
        worker = spawn_worker(**extra)
        await worker.alive(redis, prefix)
        return worker

    return start


@pytest.fixture
async def spawn_api(
    clean_db: str, redis_url: str, prefix: str, logs: Path
) -> AsyncIterator[Callable[..., ApiProc]]:
    """Start API processes in the worker mode (killed at the end): `spawn_api(port=None)`."""

    def make(n: int, port: int | None = None, url: str | None = None) -> ApiProc:
        env = process_env(clean_db, url or redis_url, prefix)
        return ApiProc(env, logs / f"api-{n}.log", port)

    async with stopped_at_the_end(make) as spawn:
        yield spawn


@pytest.fixture
async def private_redis(logs: Path) -> AsyncIterator[Callable[..., PrivateRedis]]:
    """Start redis-servers of the test's own (stopped at the end)."""

    def make(n: int, port: int | None = None) -> PrivateRedis:
        return PrivateRedis(logs / f"redis-{n}.log", port)

    async with stopped_at_the_end(make) as spawn:
        yield spawn
