"""Brute-force protection: failed sign-ins per email and per address, registrations per address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.main import create_app
from tests.conftest import make_settings, post_registration, register
from tests.fakes.bots import ScriptedBot

WRONG = "not the password"
LIMITS = {
    "login_failures_per_email": "3/minute",
    "login_failures_per_address": "5/minute",
    "registrations_per_address": "4/minute",
}

Connect = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(clean_db: str) -> Settings:
    """Small limits, so a test reaches them quickly."""
    return make_settings(clean_db, **LIMITS)


def _client_from(app: FastAPI, address: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def from_address(app: FastAPI) -> Connect:
    """A client whose requests come from the given address."""
    return lambda address: _client_from(app, address)


async def login(client: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": "too_many_attempts",
        "detail": "Too many attempts. Wait a few minutes (see Retry-After) and try again.",
    }
    assert 1 <= int(response.headers["retry-after"]) <= 60


class TestLoginPerEmail:
    async def test_failures_for_one_email_lock_it_from_every_address(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        user = await register(client, email="ada@example.com")
        for _ in range(3):
            assert (await login(client, "ada@example.com")).status_code == 401
        assert_throttled(await login(client, "ada@example.com"))
        # The right password does not get through a spent counter, nor does another address.
        assert_throttled(await login(client, "ADA@example.com", user["password"]))
        async with from_address("203.0.113.9") as elsewhere:
            assert_throttled(await login(elsewhere, "ada@example.com", user["password"]))
            # Other accounts are not affected.
            other = await register(elsewhere, email="grace@example.com")
            assert (await login(elsewhere, "grace@example.com", other["password"])).is_success

    async def test_unknown_and_known_emails_get_the_same_answers(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        await register(client, email="known@example.com")
        answers = {}
        # Each from an address of its own, so only the email's counter is at play.
        for email, address in [
            ("known@example.com", "203.0.113.1"),
            ("unknown@example.com", "203.0.113.2"),
        ]:
            async with from_address(address) as attacker:
                responses = [await login(attacker, email) for _ in range(4)]
            answers[email] = [
                (r.status_code, r.json(), "retry-after" in r.headers) for r in responses
            ]
        assert answers["known@example.com"] == answers["unknown@example.com"]
        assert [status for status, _, _ in answers["unknown@example.com"]] == [401, 401, 401, 429]

    async def test_successful_sign_ins_do_not_count(self, client: httpx.AsyncClient) -> None:
        user = await register(client, email="linus@example.com")
        for _ in range(2):
            assert (await login(client, "linus@example.com")).status_code == 401
        for _ in range(5):
            assert (await login(client, "linus@example.com", user["password"])).is_success
        assert (await login(client, "linus@example.com")).status_code == 401  # the third failure
        assert_throttled(await login(client, "linus@example.com", user["password"]))


class TestLoginPerAddress:
    async def test_failures_across_emails_lock_the_address(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        user = await register(client, email="ada@example.com")
        for n in range(5):
            assert (await login(client, f"guess-{n}@example.com")).status_code == 401
        assert_throttled(await login(client, "guess-new@example.com"))
        assert_throttled(await login(client, "ada@example.com", user["password"]))
        async with from_address("198.51.100.7") as elsewhere:
            assert (await login(elsewhere, "ada@example.com", user["password"])).is_success


class TestRegistrationsPerAddress:
    async def test_registrations_are_limited_per_address(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        for _ in range(4):
            await register(client)
        assert_throttled(await post_registration(client))
        async with from_address("192.0.2.44") as elsewhere:
            await register(elsewhere)

    async def test_the_openapi_document_declares_the_429s(self, client: httpx.AsyncClient) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        for path in ("/api/v1/auth/login", "/api/v1/auth/register"):
            assert "429" in paths[path]["post"]["responses"], path


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, run_bot=ScriptedBot())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        async with _client_from(app, "127.0.0.1") as client:
            yield client


@pytest.mark.postgresql_only
class TestSharedCounters:
    async def test_two_api_processes_share_the_counters_in_redis(
        self, clean_db: str, redis_url: str, prefix: str
    ) -> None:
        settings = make_settings(clean_db, redis_url=redis_url, redis_prefix=prefix, **LIMITS)
        async with _running(settings) as first, _running(settings) as second:
            await register(first, email="ada@example.com")
            for client in (first, second, first):
                assert (await login(client, "ada@example.com")).status_code == 401
            assert_throttled(await login(second, "ada@example.com"))
            ready = await second.get("/health/ready")
            assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
        redis = Redis.from_url(redis_url)
        try:
            keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}limits:*")]
        finally:
            await redis.aclose()
        assert keys, "the counters live under REDIS_PREFIX"
        assert not any("ada" in key for key in keys), "keys hold a digest, not the email"
