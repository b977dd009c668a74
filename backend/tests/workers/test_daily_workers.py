"""Daily rooms in the worker mode: the worker's bot joins before the API answers, and a join the
room refuses reaches the API through the worker's reply as 502 `room_join_failed`.

The worker is a real process (`tests.fakes.daily_worker`: the real worker, daily-python's
`CallClient` faked, a stand-in bot); the API runs in this process; both use the fake Daily API.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from tests.api.conversation_helpers import all_rows, eventually, row, start, user_token
from tests.conftest import auth
from tests.fakes.daily import API_KEY, FakeDaily
from tests.fakes.daily_client import JOIN_ERROR
from tests.workers.processes import WorkerProc, process_env

pytestmark = pytest.mark.postgresql_only

REFUSED = "the meeting token is not valid for this room"


@pytest.fixture
def settings(worker_settings: Settings, fake_daily: FakeDaily) -> Settings:
    return worker_settings.model_copy(
        update={
            "room_provider": "daily",
            "daily_api_url": fake_daily.url,
            "daily_api_key": API_KEY,
            "daily_retry_base_seconds": 0.01,
        }
    )


async def test_a_refused_join_in_a_worker_is_502_with_nothing_left(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake_daily: FakeDaily,
    redis: Redis,
    clean_db: str,
    redis_url: str,
    prefix: str,
    logs: Path,
) -> None:
    env = process_env(
        clean_db,
        redis_url,
        prefix,
        room_provider="daily",
        daily_api_url=fake_daily.url,
        daily_api_key=API_KEY,
        daily_join_timeout_seconds=2,
        fake_daily_joins=f"{JOIN_ERROR}{REFUSED},ok",
    )
    worker = WorkerProc(env, logs / "worker.log", module="tests.fakes.daily_worker")
    try:
        await worker.alive(redis, prefix)
        token = await user_token(client)
        refused = await start(client, token)
        assert refused.status_code == 502, refused.text
        assert refused.json()["error"] == "room_join_failed"
        assert REFUSED not in refused.text
        (failed,) = await all_rows(app)
        assert (failed.status, failed.end_reason) == ("failed", "room_error")
        assert failed.worker_id == worker.id
        assert failed.room_deleted_at is not None
        assert fake_daily.rooms == {}
        assert REFUSED in worker.tail(200)

        # The next join succeeds: the answer comes once the worker's bot is in the room.
        joined = await start(client, token)
        assert joined.status_code == 200, joined.text
        conversation_id = joined.json()["conversation_id"]
        stored = await row(app, conversation_id)
        assert stored.bot_ready_at is not None
        assert "bot joined the Daily room" in worker.tail(200)
        assert len(fake_daily.rooms) == 1
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200

        async def room_gone() -> None:
            assert fake_daily.rooms == {}

        await eventually(room_gone, within=10)
    finally:
        await worker.stop()
