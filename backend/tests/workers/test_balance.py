"""Workers share the calls: one that carries more leaves the next call to a lighter one."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from src.core.settings import Settings
from src.services.bots import protocol
from src.services.bots.admission import Admission, Reservation
from src.services.bots.protocol import GROUP, RedisKeys
from src.services.bots.wire import Heartbeat
from src.worker import process
from src.worker.process import HANDOFF_MAX_SECONDS, HANDOFF_SECONDS, Worker, handoff_seconds
from tests.workers.in_process import in_process_worker


def _beat(
    worker_id: str, bots: int, capacity: int = 10, *, load: float = 0.0, draining: bool = False
) -> Heartbeat:
    return Heartbeat(
        id=worker_id,
        host="h",
        pid=1,
        bots=bots,
        capacity=capacity,
        load=load,
        draining=draining,
        at=time.time(),
    )


def test_a_worker_reads_at_once_unless_a_peer_carries_two_bots_less() -> None:
    me = _beat("me", 4)
    assert handoff_seconds("me", 4, 10, [me]) == 0, "alone"
    assert handoff_seconds("me", 4, 10, [me, _beat("b", 4)]) == 0, "equal"
    assert handoff_seconds("me", 4, 10, [me, _beat("b", 5)]) == 0, "the peer carries more"
    assert handoff_seconds("me", 4, 10, [me, _beat("b", 3)]) == 0, "one bot apart"
    assert handoff_seconds("me", 4, 10, [me, _beat("b", 2)]) == HANDOFF_SECONDS
    assert handoff_seconds("me", 4, 10, [me, _beat("b", 1)]) == 2 * HANDOFF_SECONDS, "further"
    assert handoff_seconds("me", 40, 50, [_beat("b", 0, capacity=50)]) == HANDOFF_MAX_SECONDS
    assert handoff_seconds("me", 4, 10, [_beat("b", 2), _beat("c", 1)]) == 2 * HANDOFF_SECONDS
    assert handoff_seconds("me", 0, 10, [_beat("b", 0)]) == 0, "an idle fleet reads at once"


def test_only_a_peer_that_could_take_the_call_is_left_it() -> None:
    assert handoff_seconds("me", 4, 10, [_beat("b", 0, draining=True)]) == 0
    assert handoff_seconds("me", 4, 10, [_beat("b", 2, capacity=2)]) == 0, "the peer is full"
    busy = _beat("b", 0, load=0.95)
    assert handoff_seconds("me", 4, 10, [busy], load_threshold=0.9) == 0, "over its load"
    assert handoff_seconds("me", 4, 10, [busy]) == 3 * HANDOFF_SECONDS, "its load not considered"


def test_workers_of_other_sizes_are_compared_by_their_share() -> None:
    # 4 of 10 against 4 of 20: the bigger one carries a smaller share, by two of this one's bots
    assert handoff_seconds("me", 4, 10, [_beat("big", 4, capacity=20)]) == HANDOFF_SECONDS
    assert handoff_seconds("big", 4, 20, [_beat("me", 4, capacity=10)]) == 0
    # 4 of 10 against 6 of 20: one of this worker's bots apart, read as usual
    assert handoff_seconds("me", 4, 10, [_beat("big", 6, capacity=20)]) == 0
    # 4 of 10 against 1 of 10: three bots, however the shares round
    assert handoff_seconds("me", 4, 10, [_beat("b", 1)]) == 2 * HANDOFF_SECONDS


def _worker(app: FastAPI, settings: Settings, redis: Redis, worker_id: str) -> Worker:
    return in_process_worker(app, settings, redis, Admission(10), worker_id)


async def _busier(
    app: FastAPI, settings: Settings, redis: Redis
) -> tuple[RedisKeys, Worker, list[Reservation]]:
    """The calls stream, and a worker "busy" holding three slots (released by the test)."""
    keys = RedisKeys(settings.redis_prefix)
    await redis.xgroup_create(keys.calls, GROUP, id="0", mkstream=True)
    busy = _worker(app, settings, redis, "busy")
    return keys, busy, [busy._admission.reserve() for _ in range(3)]


@pytest.mark.postgresql_only
async def test_a_call_goes_to_the_lighter_worker_though_the_busier_one_waited_first(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    keys, busy, held = await _busier(app, settings, redis)
    light = _worker(app, settings, redis, "light")
    for worker in (busy, light):
        await protocol.beat(redis, keys, _beat(worker.id, worker._admission.held))
    # The busier worker asks first: without the handoff, Redis hands it the call.
    busy_read = asyncio.create_task(busy._next_call())
    await asyncio.sleep(0.02)
    light_read = asyncio.create_task(light._next_call())
    await asyncio.sleep(0.02)
    await redis.xadd(keys.calls, {"message": "{}", "reply": keys.new_reply()})
    got_light, got_busy = await asyncio.gather(light_read, busy_read)
    assert got_light is not None, "the lighter worker took the call"
    assert got_busy is None, "the busier one found nothing left"
    for reservation in held:
        reservation.release()


@pytest.mark.postgresql_only
async def test_a_call_the_lighter_worker_does_not_take_is_taken_after_the_handoff(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    keys, busy, held = await _busier(app, settings, redis)
    # A lighter peer that is alive but not reading (busy starting its own bots).
    await protocol.beat(redis, keys, _beat("light", 0))
    await redis.xadd(keys.calls, {"message": "{}", "reply": keys.new_reply()})
    started = time.monotonic()
    assert await busy._next_call() is not None
    assert time.monotonic() - started >= HANDOFF_SECONDS
    for reservation in held:
        reservation.release()


@pytest.mark.postgresql_only
async def test_a_worker_that_is_no_longer_the_busier_stops_leaving_calls_at_once(
    app: FastAPI, settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "HANDOFF_SECONDS", 30.0)
    monkeypatch.setattr(process, "HANDOFF_MAX_SECONDS", 30.0)
    keys, busy, held = await _busier(app, settings, redis)
    await protocol.beat(redis, keys, _beat("light", 1))
    reading = asyncio.create_task(busy._next_call())
    await asyncio.sleep(0.1)
    assert not reading.done(), "leaving the calls to the lighter worker"
    for reservation in held:
        reservation.release()  # its calls ended: now the lighter one
    assert await asyncio.wait_for(reading, 5) is None


@pytest.mark.postgresql_only
async def test_a_heartbeat_says_a_changed_count_at_once(
    app: FastAPI, settings: Settings, redis: Redis
) -> None:
    keys = RedisKeys(settings.redis_prefix)
    worker = _worker(app, settings, redis, "w")
    beating = worker.liveness.tasks()
    try:
        await asyncio.sleep(0.1)
        reservation = worker._admission.reserve()
        await asyncio.sleep(0.1)  # well within the heartbeat's second
        (beat,) = await protocol.live_workers(redis, keys)
        assert beat.bots == 1
        reservation.release()
        await asyncio.sleep(0.1)
        (beat,) = await protocol.live_workers(redis, keys)
        assert beat.bots == 0
    finally:
        for task in beating:
            task.cancel()
        await asyncio.gather(*beating, return_exceptions=True)
