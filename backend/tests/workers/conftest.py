"""Fixtures for the worker mode: a real Redis, real worker processes, the API in worker mode.

Redis and each test's key prefix come from the `redis_url` and `prefix` fixtures of
tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
    started: list[WorkerProc] = []

    def spawn(url: str | None = None, **extra: Any) -> WorkerProc:
        env = process_env(clean_db, url or redis_url, prefix, public_base_url="http://testserver")
        env.update({key.upper(): str(value) for key, value in extra.items()})
        worker = WorkerProc(env, logs / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        await worker.stop()


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
    started: list[ApiProc] = []

    def spawn(port: int | None = None, url: str | None = None) -> ApiProc:
        env = process_env(clean_db, url or redis_url, prefix)
        api = ApiProc(env, logs / f"api-{len(started)}.log", port)
        started.append(api)
        return api

    yield spawn
    for api in started:
        await api.stop()


@pytest.fixture
def private_redis(logs: Path) -> Iterator[Callable[..., PrivateRedis]]:
    """Start redis-servers of the test's own (stopped at the end)."""
    started: list[PrivateRedis] = []

    def spawn(port: int | None = None) -> PrivateRedis:
        server = PrivateRedis(logs / f"redis-{len(started)}.log", port)
        started.append(server)
        return server

    yield spawn
    for server in started:
        if server.popen.poll() is None:
            server.popen.kill()
            server.popen.wait(10)
