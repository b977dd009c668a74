"""A worker cut off from Redis alone keeps its calls; cut off from both, it stops its bots
before anyone may declare it lost (services/conversations/leases.py)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from src.core.clock import utcnow
from src.core.enums import EndReason
from src.core.settings import Settings
from src.models.conversation import Conversation
from src.models.user import User
from src.models.worker_lease import WorkerLease
from src.rooms.local.provider import LocalRoomProvider
from src.services.bots.admission import Admission
from src.services.bots.protocol import ALIVE_TTL_SECONDS, LOST_AFTER_SECONDS
from src.services.conversations import recovery as recovery_module
from src.services.conversations.leases import (
    FENCE_AFTER_SECONDS,
    LEASE_SECONDS,
    fenced,
)
from src.services.conversations.recovery import WorkerReaper
from src.worker.process import Worker
from tests.api.conversation_helpers import recovery, row, user_token


def test_a_worker_stops_its_bots_before_anyone_may_declare_it_lost() -> None:
    # The reaper needs the heartbeat gone (its TTL) and missed LOST_AFTER_SECONDS, and the
    # lease older than LEASE_SECONDS; the worker stops its bots FENCE_AFTER_SECONDS after its
    # last writes, leaving 2 s to stop them and for the machines' clocks to disagree.
    assert FENCE_AFTER_SECONDS + 2 <= min(LEASE_SECONDS, ALIVE_TTL_SECONDS + LOST_AFTER_SECONDS)
    now = 100.0
    assert not fenced(now, heartbeat_ok=now - 10, lease_ok=now - 1), "the lease still written"
    assert not fenced(now, heartbeat_ok=now - 1, lease_ok=now - 10), "the heartbeat still written"
    assert fenced(now, heartbeat_ok=now - FENCE_AFTER_SECONDS, lease_ok=now - 10)


class _Runner:
    """The runner as the fence sees it: the bots it runs, and their stop."""

    owner_id = "w-fenced"

    def __init__(self, ids: list[uuid.UUID]) -> None:
        self.admission = Admission(10)
        self.ids = ids
        self.stopped: list[tuple[uuid.UUID, EndReason]] = []

    def running_ids(self) -> list[uuid.UUID]:
        return list(self.ids)

    async def cancel(self, conversation_id: uuid.UUID, reason: EndReason) -> bool:
        self.stopped.append((conversation_id, reason))
        self.ids.remove(conversation_id)
        return True


@pytest.mark.postgresql_only
async def test_a_worker_that_reaches_neither_redis_nor_the_database_stops_its_bots(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    bots = [uuid.uuid4(), uuid.uuid4()]
    runner = _Runner(list(bots))
    worker = Worker(
        settings,
        redis,
        runner,  # type: ignore[arg-type]
        LocalRoomProvider(settings),
        recovery(app).leases,
    )
    cut_at = time.monotonic() - FENCE_AFTER_SECONDS
    worker.liveness.heartbeat_ok = cut_at
    worker.liveness.lease_ok = time.monotonic()
    assert await worker.liveness.fence_if_cut_off() == 0, "its lease is still renewed: it serves on"
    worker.liveness.lease_ok = cut_at
    assert await worker.liveness.fence_if_cut_off() == 2
    assert runner.stopped == [(bot, EndReason.WORKER_LOST) for bot in bots]


@pytest.mark.postgresql_only
async def test_a_worker_missing_from_redis_is_not_lost_while_its_lease_is_held(
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its heartbeat has been missing long enough: only the lease tells.
    monkeypatch.setattr(recovery_module, "LOST_AFTER_SECONDS", 0.0)
    await user_token(client)
    async with app.state.database.sessionmaker.begin() as session:
        user_id = (await session.scalars(select(User.id))).one()
        call = Conversation(user_id=user_id, status="active", worker_id="w-cut")
        session.add(call)
    leases = recovery(app).leases
    await leases.renew("w-cut", utcnow())
    reaper = WorkerReaper(redis, settings, recovery(app))
    assert await reaper.run_once() == 0
    assert (await row(app, call.id)).status == "active"

    await leases.renew("w-cut", utcnow() - timedelta(seconds=LEASE_SECONDS + 1))
    assert await reaper.run_once() == 1
    ended = await row(app, call.id)
    assert (ended.status, ended.end_reason) == ("failed", "worker_lost")
    async with app.state.database.sessionmaker() as session:
        assert await session.get(WorkerLease, "w-cut") is None, "the lost worker's lease kept"
