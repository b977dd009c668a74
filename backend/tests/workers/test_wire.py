"""A worker refuses what it cannot read: a control request answered `Refused`, a call dropped."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.enums import EndReason
from src.core.settings import Settings
from src.services.bots.admission import Admission
from src.services.bots.protocol import GROUP, RedisKeys, wait_reply
from src.services.bots.wire import Refused, StopBot, Stopped
from src.worker.process import Worker
from tests.workers.in_process import in_process_worker

pytestmark = pytest.mark.postgresql_only


def _worker(app: FastAPI, settings: Settings, redis: Redis) -> Worker:
    return in_process_worker(app, settings, redis, Admission(1))


@pytest.mark.parametrize(
    "message",
    [b"not json", b'{"type": "reboot"}', b'{"type": "taken", "worker_id": "w"}', b""],
)
async def test_a_control_request_it_cannot_read_is_refused(
    app: FastAPI, settings: Settings, redis: Redis, message: bytes
) -> None:
    worker = _worker(app, settings, redis)
    reply = RedisKeys(settings.redis_prefix).new_reply()
    await worker.control.answer({b"message": message, b"reply": reply.encode()})
    answer = await wait_reply(redis, reply, 5)
    assert isinstance(answer, Refused)
    assert answer.error == "unknown_request"


async def test_a_control_request_it_reads_is_answered_in_kind(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    worker = _worker(app, settings, redis)
    reply = RedisKeys(settings.redis_prefix).new_reply()
    request = StopBot(uuid.uuid4(), EndReason.USER_ENDED).encode().encode()
    await worker.control.answer({b"message": request, b"reply": reply.encode()})
    assert await wait_reply(redis, reply, 5) == Stopped(False)


async def test_a_control_request_sent_while_the_worker_is_not_reading_is_answered(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    # Between two blocking reads of its control stream (each returns after CONTROL_BLOCK_MS
    # with nothing), a worker is not reading: a request sent then must still be read. Sent
    # before the first read, it is the same moment.
    worker = _worker(app, settings, redis)
    keys = RedisKeys(settings.redis_prefix)
    reply = keys.new_reply()
    request = StopBot(uuid.uuid4(), EndReason.USER_ENDED).encode()
    await redis.xadd(keys.control(worker.id), {"message": request, "reply": reply})
    tasks: list[asyncio.Task[None]] = []
    reading = asyncio.create_task(
        worker.control.read(lambda coro, name: tasks.append(asyncio.create_task(coro)))
    )
    try:
        assert await wait_reply(redis, reply, 5) == Stopped(False)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await asyncio.gather(*tasks)


async def test_a_call_it_cannot_read_is_dropped(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    worker = _worker(app, settings, redis)
    keys = RedisKeys(settings.redis_prefix)
    await redis.xgroup_create(keys.calls, GROUP, id="0", mkstream=True)
    reply = keys.new_reply()
    await redis.xadd(keys.calls, {"message": '{"type": "start_call", "job": {}}', "reply": reply})
    entry = await worker._next_call()
    assert entry is not None
    await worker._take(*entry)
    pending = await redis.xpending(keys.calls, GROUP)
    assert pending["pending"] == 0, "acknowledged, so no other worker takes it over"
    assert await redis.llen(reply) == 0
