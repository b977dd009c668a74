"""A worker's signs of life: its heartbeat in Redis, its lease in the database, and the fence.

The heartbeat is a key with a TTL (and the workers' sorted set) that the API reads to pick a
worker; the lease is renewed in the database every second for the reaper
(`services/conversations/leases.py`). Cut off from both for FENCE_AFTER_SECONDS, the worker
stops its bots (`worker_lost`) before anyone may declare it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from src.core.clock import utcnow
from src.core.enums import EndReason
from src.services.bots import protocol
from src.services.bots.protocol import HEARTBEAT_SECONDS, RedisKeys
from src.services.bots.runner import BotRunner
from src.services.bots.wire import Heartbeat
from src.services.conversations.leases import LEASE_RENEW_SECONDS, WorkerLeases, fenced

logger = logging.getLogger(__name__)


class Liveness:
    """Writes a worker's heartbeat and lease, and stops its bots once it can write neither.

    Args:
        worker_id: The worker's id.
        redis: Where the heartbeat goes.
        keys: The deployment's Redis keys.
        runner: The worker's bots (their count in the heartbeat; stopped by the fence).
        draining: Whether the worker is draining (said in the heartbeat).
        leases: The database's leases (none: no lease and no fence, as in tests of the wire).
    """

    def __init__(
        self,
        worker_id: str,
        redis: Redis,
        keys: RedisKeys,
        runner: BotRunner,
        draining: Callable[[], bool],
        leases: WorkerLeases | None = None,
    ) -> None:
        self._id = worker_id
        self._redis = redis
        self._keys = keys
        self._runner = runner
        self._draining = draining
        self._leases = leases
        # When the last heartbeat and lease writes that succeeded began (monotonic).
        self.heartbeat_ok = self.lease_ok = time.monotonic()
        self._redis_down_logged = False
        self._nudged = asyncio.Event()
        # Its count changes as it takes and ends calls: the others read it to balance the calls
        # (`process.handoff_seconds`), so it is written then, not only each second.
        runner.admission.watch(self.nudge)

    def nudge(self) -> None:
        """Write the heartbeat now (the bot count changed), not at the next second."""
        self._nudged.set()

    def tasks(self) -> list[asyncio.Task[None]]:
        """Start the heartbeat, and the lease and the fence if there are leases."""
        tasks = [asyncio.create_task(self._heartbeat(), name="heartbeat")]
        if self._leases is not None:
            tasks.append(asyncio.create_task(self._lease(self._leases), name="lease"))
            tasks.append(asyncio.create_task(self._fence(), name="fence"))
        return tasks

    async def _heartbeat(self) -> None:
        admission = self._runner.admission
        while True:
            beat = Heartbeat(
                id=self._id,
                host=socket.gethostname(),
                pid=os.getpid(),
                # Starting or running: a call taken counts from then, as in its admission.
                bots=admission.held,
                capacity=admission.capacity,
                load=round(admission.load.value if admission.load else 0.0, 3),
                draining=self._draining(),
                at=time.time(),
            )
            began = time.monotonic()
            try:
                await protocol.beat(self._redis, self._keys, beat)
                self.heartbeat_ok = began
                if self._redis_down_logged:
                    logger.info("worker %s: Redis is back", self._id)
                    self._redis_down_logged = False
            except RedisError as exc:
                if not self._redis_down_logged:
                    logger.error("worker %s: Redis unreachable, calls go on: %s", self._id, exc)
                    self._redis_down_logged = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), HEARTBEAT_SECONDS)
            self._nudged.clear()

    async def _lease(self, leases: WorkerLeases) -> None:
        while True:
            began, at = time.monotonic(), utcnow()
            try:
                await leases.renew(self._id, at)
                self.lease_ok = began
            except Exception as exc:
                logger.warning("worker %s: could not renew its lease: %s", self._id, exc)
            await asyncio.sleep(LEASE_RENEW_SECONDS)

    async def _fence(self) -> None:
        while True:
            await asyncio.sleep(LEASE_RENEW_SECONDS / 4)
            await self.fence_if_cut_off()

    async def fence_if_cut_off(self) -> int:
        """Stop every bot (`worker_lost`) if neither the heartbeat nor the lease could be
        written for FENCE_AFTER_SECONDS: this worker may be declared lost any moment now, and
        its bots must not outlive that. How many it stopped."""
        ids = self._runner.running_ids()
        if not ids or not fenced(time.monotonic(), self.heartbeat_ok, self.lease_ok):
            return 0
        logger.error(
            "worker %s: cut off from Redis and the database: stopping its %d bots",
            self._id,
            len(ids),
        )
        await asyncio.gather(*(self._runner.cancel(i, EndReason.WORKER_LOST) for i in ids))
        return len(ids)

    async def withdraw(self) -> None:
        """Say the worker is gone: its heartbeat and its lease removed (best effort)."""
        try:
            await self._redis.delete(self._keys.alive(self._id))
            await self._redis.zrem(self._keys.workers, self._id)
        except RedisError as exc:
            logger.warning("worker %s: could not remove its heartbeat: %s", self._id, exc)
        if self._leases is not None:
            try:
                await self._leases.drop(self._id)
            except Exception as exc:
                logger.warning("worker %s: could not drop its lease: %s", self._id, exc)
