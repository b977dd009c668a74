"""Shared fixtures: a migrated database per run, a clean state per test, the app and a client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import hypothesis
import pytest
import redis as sync_redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

import src.models  # noqa: F401  (registers the tables)
from src.contract.bot import RunBot
from src.core import security
from src.core.settings import Settings
from src.main import create_app
from tests.ci import skip_loudly
from tests.db import (
    db_kind,
    fresh_database,
    migrate,
    remove_sqlite,
    sqlite_copy,
    sqlite_template,
    truncate_all,
)
from tests.fakes import daily_client
from tests.fakes.bots import ScriptedBot
from tests.fakes.daily import API_KEY, FakeDaily
from tests.fakes.daily_client import FakeCallClient
from tests.kit.processes import forget, new_prefix

# Fixtures shared by tests in several folders: coturn (`turn_server`) and the webhook
# receiver (`receiver`).
pytest_plugins = ["tests.coturn", "tests.fakes.webhooks"]

# Random-looking: the test apps' PUBLIC_BASE_URL (http://testserver) is not loopback, where a
# regular secret is refused (core/settings.py).
TEST_SECRET = "test-secret-vuODibZnaE9FzdUqEm1mqJ_3JVGkDdPOu2laOff-_VA"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# Speed is measured by the benchmarks, not asserted by tests: no per-example deadline (on a
# loaded 2-core machine one example can take 0.5 s and fail for nothing).
hypothesis.settings.register_profile("numerologist", deadline=None)
hypothesis.settings.load_profile("numerologist")


# Production's Argon2id cost (64 MiB, 3 passes: ~0.15 s a hash or check here) in every sign-up
# and sign-in of nearly every test added up to minutes: the tests' own process hashes with
# Argon2id at its lowest cost (same algorithm, same code path). A test about the cost itself
# takes `production_password_hashes`; the app processes tests start run production's.
PRODUCTION_PASSWORD_HASHES = (security._password_hash, security._DUMMY_HASH)
_CHEAP_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1),))


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """Argon2id at its lowest cost in this process, for the whole run."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_password_hash", _CHEAP_HASH)
        patch.setattr(security, "_DUMMY_HASH", _CHEAP_HASH.hash("dummy password, no account"))
        yield


@pytest.fixture
def production_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production's Argon2id cost for this test."""
    monkeypatch.setattr(security, "_password_hash", PRODUCTION_PASSWORD_HASHES[0])
    monkeypatch.setattr(security, "_DUMMY_HASH", PRODUCTION_PASSWORD_HASHES[1])


def pytest_configure(config: pytest.Config) -> None:
    # No test writes the machine's store of synthesised sentences (backend/data/synthesis),
    # nor reads what an earlier run left there: its processes' settings say none (their
    # environment is this one); tests/voice/test_sentence_store.py gives it a directory of its
    # own. Here, not at import: the bench imports this module's helpers.
    os.environ.setdefault("TTS_STORE_MB", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that touch a database; on SQLite, leave out the ones
    about a database server (one that goes away and comes back)."""
    for item in items:
        # Marked by folder: the voice bot's tests and the worker processes' (make test-fast).
        if any(part in {"voice", "workers"} for part in item.path.parts):
            item.add_marker(pytest.mark.voice)
    other = "once" if db_kind() == "postgresql" else "postgresql_only"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    deselected = [item for item in items if item.get_closest_marker(other) is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"test database: {db_kind()}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this run's kind, migrated to head once for the whole run."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        migrate(url)
        if db_kind() == "sqlite":
            sqlite_template(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (TEST_REDIS_URL), checked once per run: without it the test is skipped
    with a loud warning, except in CI (`tests.ci`), where it fails."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        sync_redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except sync_redis.RedisError as exc:
        skip_loudly(f"Redis is unreachable at {url} ({exc}): the tests that need it cannot run.")
    return url


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """This test's own key prefix; its keys are deleted afterwards."""
    prefix = new_prefix("test")
    yield prefix
    await forget(redis_url, prefix)


@pytest.fixture
async def clean_db(database_url: str) -> AsyncIterator[str]:
    """An empty, migrated database for the test: on SQLite a copy of the run's template of its
    own (deleted after), on PostgreSQL the run's database emptied before the test."""
    if db_kind() == "sqlite":
        url = sqlite_copy(database_url)
        yield url
        remove_sqlite(url)
        return
    await truncate_all(database_url)
    yield database_url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "environment": "development",
        "public_base_url": "http://testserver",
        **overrides,
    }
    values.setdefault("log_level", os.environ.get("TEST_LOG_LEVEL", "INFO"))
    # A peer that hangs up ends its call this soon (the rejoin tests set their own grace).
    values.setdefault("rejoin_grace_seconds", 2.0)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(clean_db: str) -> Settings:
    """Settings of the app under test."""
    return make_settings(clean_db)


@pytest.fixture
def bot() -> ScriptedBot:
    """The stand-in voice bot the app runs (the voice tests use the real one)."""
    return ScriptedBot()


@pytest.fixture
async def app(settings: Settings, bot: RunBot) -> AsyncIterator[FastAPI]:
    """The app, with its lifespan running."""
    application = create_app(settings, run_bot=bot)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        yield application


@pytest.fixture
def call_client() -> Iterator[type[FakeCallClient]]:
    """daily-python's `CallClient` replaced by a fake (pipecat's Daily transport joins with it)."""
    with daily_client.installed() as fake:
        yield fake


@pytest.fixture
async def fake_daily(call_client: type[FakeCallClient]) -> AsyncIterator[FakeDaily]:
    """A fake Daily: its REST API on loopback, and the fake `CallClient` the bots join with."""
    async with FakeDaily().serve() as daily:
        yield daily


def daily_settings(database_url: str, daily: FakeDaily, **overrides: Any) -> Settings:
    """Settings that use the fake Daily API, with quick retries."""
    return make_settings(
        database_url,
        room_provider="daily",
        daily_api_url=daily.url,
        daily_api_key=API_KEY,
        daily_retry_base_seconds=0.01,
        **overrides,
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def post_registration(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str = "correct horse battery",
    full_name: str = "Ada Lovelace",
    birth_date: date = date(1990, 7, 15),
) -> httpx.Response:
    """POST a registration (a new email unless given); the response, whatever it is."""
    return await client.post(
        "/api/v1/auth/register",
        json={
            "email": email or f"user-{uuid.uuid4().hex[:8]}@example.com",
            "password": password,
            "full_name": full_name,
            "birth_date": birth_date.isoformat(),
        },
    )


async def register(
    client: httpx.AsyncClient, *, password: str = "correct horse battery", **fields: Any
) -> dict[str, Any]:
    """Register a user; return the response body with the password used."""
    response = await post_registration(client, password=password, **fields)
    assert response.status_code == 201, response.text
    return {**response.json(), "password": password}


def auth(token: str) -> dict[str, str]:
    """The Authorization header for a bearer token."""
    return {"Authorization": f"Bearer {token}"}
