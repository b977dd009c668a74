"""Brute-force protection: sign-in attempts per (email, address), per address and per email
(growing delays), registrations per address; the client address behind trusted proxies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from ipaddress import ip_network

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis

from src.api.deps import client_behind_proxies
from src.core.settings import Settings
from src.main import create_app
from src.services.throttling import address_key, login_delay
from tests.conftest import make_settings, post_registration, register
from tests.fakes.bots import ScriptedBot

WRONG = "not the password"
LIMITS = {
    "login_failures_per_email": "3/minute",
    "login_failures_per_email_and_address": "3/minute",
    "login_failures_per_address": "5/minute",
    "registrations_per_address": "4/minute",
}

Connect = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(clean_db: str) -> Settings:
    """Small limits, so a test reaches them quickly."""
    return make_settings(clean_db, **LIMITS)


def _client_from(
    app: FastAPI, address: str, headers: dict[str, str] | None = None
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@pytest.fixture
def from_address(app: FastAPI) -> Connect:
    """A client whose requests come from the given address."""
    return lambda address: _client_from(app, address)


async def login(client: httpx.AsyncClient, email: str, password: str = WRONG) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response, most: int = 60) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == {
        "error": "too_many_attempts",
        "detail": "Too many attempts. Wait a few minutes (see Retry-After) and try again.",
    }
    assert 1 <= int(response.headers["retry-after"]) <= most


class TestLoginPerEmailAndAddress:
    async def test_failures_lock_the_guessing_address_only(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        user = await register(client, email="ada@example.com")
        async with from_address("203.0.113.9") as stranger:
            for _ in range(3):
                assert (await login(stranger, "ada@example.com")).status_code == 401
            assert_throttled(await login(stranger, "ada@example.com"))
            # The right password does not get through the stranger's spent counter...
            assert_throttled(await login(stranger, "ADA@example.com", user["password"]))
            # ... nor are the stranger's other accounts affected.
            other = await register(stranger, email="grace@example.com")
            assert (await login(stranger, "grace@example.com", other["password"])).is_success
        # The owner, from an address with no failures, gets in.
        assert (await login(client, "ada@example.com", user["password"])).is_success

    async def test_unknown_and_known_emails_get_the_same_answers(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        await register(client, email="known@example.com")
        answers = {}
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


class TestConcurrentAttempts:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, login_failures_per_email_and_address="5/minute")

    async def test_attempts_sent_at_once_are_counted_before_they_are_checked(
        self, client: httpx.AsyncClient
    ) -> None:
        await register(client, email="ada@example.com")
        responses = await asyncio.gather(*(login(client, "ada@example.com") for _ in range(12)))
        statuses = sorted(response.status_code for response in responses)
        # Each 401 is a password checked: no more than the limit's worth, whatever the timing.
        assert statuses == [401] * 5 + [429] * 7


class TestAccountDelays:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        # A first delay long enough that a loaded machine cannot outlast it between requests.
        return make_settings(
            clean_db,
            login_failures_per_email="2/minute",
            login_failures_per_email_and_address="10/minute",
            login_delay_seconds=30,
        )

    async def test_addresses_that_failed_wait_and_a_clean_one_gets_in(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        user = await register(client, email="ada@example.com")
        async with from_address("203.0.113.1") as first, from_address("203.0.113.2") as second:
            for attacker in (second, first):
                assert (await login(attacker, "ada@example.com")).status_code == 401
            # Past the email's limit of 2: an address that has failed on it takes a turn, then
            # it and every other address that has failed on it waits the delay.
            assert (await login(first, "ada@example.com")).status_code == 401
            for attacker in (first, second):
                response = await login(attacker, "ada@example.com", user["password"])
                assert_throttled(response, most=30)
                assert int(response.headers["retry-after"]) > 1
            # Not a lock: the owner, from an address with no failures, gets in.
            assert (await login(client, "ada@example.com", user["password"])).is_success
            async with from_address("2001:db8::7") as fresh:
                assert (await login(fresh, "ada@example.com", user["password"])).is_success

    def test_the_delays_double_up_to_the_most(self) -> None:
        assert [login_delay(n, 1, 300) for n in range(1, 12)] == [
            1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300,
        ]  # fmt: skip
        assert login_delay(10_000, 5, 60) == 60


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

    async def test_ipv6_addresses_count_by_their_64(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        user = await register(client, email="ada@example.com")
        for n in range(3):
            async with from_address(f"2001:db8:0:7::{n + 1:x}") as host:
                assert (await login(host, "ada@example.com")).status_code == 401
        async with from_address("2001:db8:0:7:ffff::9") as same_64:
            assert_throttled(await login(same_64, "ada@example.com", user["password"]))
        async with from_address("2001:db8:0:8::1") as next_64:
            assert (await login(next_64, "ada@example.com", user["password"])).is_success

    def test_address_keys(self) -> None:
        assert address_key("203.0.113.9") == "203.0.113.9"
        assert address_key("2001:db8:0:7:aaaa:bbbb:cccc:dddd") == "2001:db8:0:7::/64"
        assert address_key("::ffff:198.51.100.3") == "198.51.100.3"
        assert address_key("unknown") == "unknown"


class TestTrustedProxies:
    async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
        self, client: httpx.AsyncClient, from_address: Connect
    ) -> None:
        # No TRUSTED_PROXIES (the default): not even loopback may name another client.
        user = await register(client, email="ada@example.com")
        for n in range(3):
            forged = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
            response = await client.post(
                "/api/v1/auth/login",
                json={"email": "ada@example.com", "password": WRONG},
                headers=forged,
            )
            assert response.status_code == 401
        assert_throttled(await login(client, "ada@example.com", user["password"]))

    async def test_a_trusted_proxy_names_the_client(self, clean_db: str) -> None:
        settings = make_settings(clean_db, trusted_proxies="10.0.0.0/8, 2001:db8:ffff::1", **LIMITS)
        async with _app(settings) as app:
            async with _client_from(app, "127.0.0.1") as direct:
                user = await register(direct, email="ada@example.com")

            def behind(
                proxy: str, forwarded: str
            ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
                return _client_from(app, proxy, {"X-Forwarded-For": forwarded})

            for proxy in ("10.1.2.3", "10.9.9.9", "2001:db8:ffff::1"):
                # A client's own entries further left are ignored.
                async with behind(proxy, f"198.51.100.{len(proxy)}, 203.0.113.5") as hop:
                    assert (await login(hop, "ada@example.com")).status_code == 401
            async with behind("10.1.2.3", "203.0.113.5") as same_client:
                assert_throttled(await login(same_client, "ada@example.com", user["password"]))
            async with behind("10.1.2.3", "203.0.113.6") as other_client:
                assert (await login(other_client, "ada@example.com", user["password"])).is_success

    def test_the_client_is_the_first_untrusted_hop_from_the_right(self) -> None:
        trusted = [ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")]
        assert client_behind_proxies("10.0.0.1", "192.0.2.1, 10.0.0.2", trusted) == "192.0.2.1"
        assert client_behind_proxies("10.0.0.1", "1.1.1.1, 192.0.2.1", trusted) == "192.0.2.1"
        assert client_behind_proxies("192.0.2.9", "192.0.2.1", trusted) == "192.0.2.9"
        assert client_behind_proxies("10.0.0.1", "", trusted) == "10.0.0.1"
        assert client_behind_proxies("10.0.0.1", "junk", trusted) == "10.0.0.1"
        assert client_behind_proxies("2001:db8::1", "2001:db9::5", trusted) == "2001:db9::5"
        assert client_behind_proxies("127.0.0.1", "192.0.2.1", trusted) == "127.0.0.1"


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
async def _app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings, run_bot=ScriptedBot())
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        yield app


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(settings) as app, _client_from(app, "127.0.0.1") as client:
        yield client


@pytest.mark.postgresql_only
class TestSharedCounters:
    async def test_two_api_processes_share_the_counters_in_redis(
        self, clean_db: str, redis_url: str, prefix: str
    ) -> None:
        limits = {**LIMITS, "login_failures_per_address": "30/minute"}
        settings = make_settings(clean_db, redis_url=redis_url, redis_prefix=prefix, **limits)
        async with _running(settings) as first, _running(settings) as second:
            await register(first, email="ada@example.com")
            for client in (first, second, first):
                assert (await login(client, "ada@example.com")).status_code == 401
            assert_throttled(await login(second, "ada@example.com"))
            # Sent at once to both processes: counted in Redis before any is checked.
            attempts = [login(c, "grace@example.com") for c in (first, second) * 6]
            statuses = sorted(response.status_code for response in await asyncio.gather(*attempts))
            assert statuses == [401] * 3 + [429] * 9
            ready = await second.get("/health/ready")
            assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok"}
        redis = Redis.from_url(redis_url)
        try:
            keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}limits:*")]
        finally:
            await redis.aclose()
        assert keys, "the counters live under REDIS_PREFIX"
        assert not any("ada" in key for key in keys), "keys hold a digest, not the email"
