"""A worker in the test's own process: the app's conversation services, a scripted bot, local
rooms, the test's Redis (for tests of its intake, control and liveness without a process)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.rooms.local.provider import LocalRoomProvider
from src.services.bots.admission import Admission
from src.services.bots.runner import BotRunner
from src.worker.process import Worker
from tests.api.conversation_helpers import recovery, services
from tests.fakes.bots import ScriptedBot


def in_process_worker(
    app: FastAPI, settings: Settings, redis: Redis, admission: Admission, worker_id: str = "w"
) -> Worker:
    """A `Worker` named `worker_id` whose bots hold `admission`'s slots (not running: call its
    methods, or `run`)."""
    rooms = LocalRoomProvider(settings)
    runner = BotRunner(
        ScriptedBot(),
        services(app).lifecycle,
        settings,
        finish=recovery(app).finish,
        transports=rooms.bot_transport,
        owner_id=worker_id,
        admission=admission,
    )
    return Worker(settings, redis, runner, rooms)
