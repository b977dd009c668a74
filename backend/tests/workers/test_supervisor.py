"""`python -m src.worker`: the supervisor starts WORKERS workers, replaces a dead one, drains."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.workers.processes import Proc, process_env

pytestmark = pytest.mark.postgresql_only


async def _beats(redis: Redis, prefix: str) -> dict[str, dict[str, object]]:
    beats = {}
    async for key in redis.scan_iter(match=f"{prefix}alive:*"):
        value = await redis.get(key)
        if value is not None:
            beat = json.loads(value)
            beats[str(beat["id"])] = beat
    return beats


async def _until(redis: Redis, prefix: str, check, within: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        beats = await _beats(redis, prefix)
        if check(beats):
            return beats
        await asyncio.sleep(0.2)
    raise TimeoutError(f"heartbeats never matched: {await _beats(redis, prefix)}")


async def test_two_workers_a_dead_one_replaced_and_a_clean_drain(
    clean_db: str, redis_url: str, prefix: str, redis: Redis, logs: Path
) -> None:
    env = process_env(clean_db, redis_url, prefix, workers=2)
    supervisor = Proc([sys.executable, "-m", "src.worker"], env, logs / "supervisor.log")
    try:
        beats = await _until(redis, prefix, lambda b: len(b) == 2)
        pids = {int(str(b["pid"])) for b in beats.values()}
        assert supervisor.pid not in pids
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        # A new worker (a new id and pid) replaces the dead one; the dead one's key expires.
        await _until(
            redis,
            prefix,
            lambda b: len(b) == 2 and victim not in {int(str(x["pid"])) for x in b.values()},
        )
        supervisor.signal(signal.SIGTERM)
        assert await supervisor.wait(60) == 0, supervisor.tail()
        assert await _beats(redis, prefix) == {}, "a drained worker removes its heartbeat"
    finally:
        await supervisor.stop()


def test_workers_default_to_the_cores() -> None:
    from src.worker.supervisor import worker_count
    from tests.conftest import make_settings

    assert worker_count(make_settings("sqlite+aiosqlite://")) == (os.cpu_count() or 1)
    assert worker_count(make_settings("sqlite+aiosqlite://", workers=0)) == 0
