"""A worker's room (bots and measured load) and the reaper of calls no worker ever claimed."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from src.core.clock import utcnow
from src.core.settings import Settings
from src.models.conversation import Conversation
from src.models.user import User
from src.services.bots.admission import Admission
from src.services.bots.load import LoadMonitor
from src.services.conversations.recovery import WorkerReaper
from tests.api.conversation_helpers import recovery, row, user_token
from tests.workers.in_process import in_process_worker

pytestmark = pytest.mark.postgresql_only


def test_the_load_is_a_moving_average_of_the_last_2_5_seconds() -> None:
    load = LoadMonitor()
    assert load.value == 0.0
    for value in (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0):
        load.add(value)
    assert load.value == pytest.approx(0.6)


async def test_a_worker_takes_calls_only_below_its_bots_and_load(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    load = LoadMonitor()
    admission = Admission(1, load=load, load_threshold=0.5)
    worker = in_process_worker(app, settings, redis, admission)
    assert worker.has_room()
    for _ in range(5):
        load.add(0.9)
    assert not worker.has_room(), "above the load threshold"
    for _ in range(5):
        load.add(0.1)
    assert worker.has_room()
    reservation = admission.reserve()
    assert not worker.has_room(), "at its bot count"
    reservation.release()
    worker.drain()
    assert not worker.has_room(), "draining"


async def test_a_call_whose_api_died_while_dispatching_is_ended(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, redis: Redis
) -> None:
    await user_token(client)
    async with app.state.database.sessionmaker.begin() as session:
        user_id = (await session.scalars(select(User.id))).one()
        # Published five minutes ago and never claimed: its API died before a worker took it.
        stranded = Conversation(user_id=user_id, started_at=utcnow() - timedelta(minutes=5))
        fresh = Conversation(user_id=user_id)
        session.add_all([stranded, fresh])
    reaper = WorkerReaper(redis, settings, recovery(app))
    assert await reaper.run_once() == 1
    ended = await row(app, stranded.id)
    assert (ended.status, ended.end_reason) == ("failed", "bot_error")
    assert (await row(app, fresh.id)).status == "starting"
