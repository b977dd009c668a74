"""Ownership by liveness: the conversations of a worker that died end as `worker_lost`.

Every API process and every worker runs one; each end is recorded exactly once whoever sees it
first (`ConversationLifecycle.finish` locks the row). Nothing is ended while Redis cannot be
read: a heartbeat that cannot be seen is not a dead worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from src.contract.bot import ConversationRecords
from src.core.clock import utcnow
from src.core.enums import EndReason
from src.core.settings import Settings
from src.services.bots.protocol import LOST_AFTER_SECONDS, OWNER_TTL_SECONDS, RedisKeys, text

logger = logging.getLogger(__name__)

REAP_INTERVAL_SECONDS = 1.0


class WorkerReaper:
    """Ends the conversations of dead workers, and of calls that no worker ever claimed."""

    def __init__(self, redis: Redis, settings: Settings, lifecycle: ConversationRecords) -> None:
        self._redis = redis
        self._keys = RedisKeys(settings.redis_prefix)
        self._lifecycle = lifecycle
        # A call still unclaimed this long after its start: its API died while dispatching.
        self._unclaimed_after = timedelta(
            seconds=settings.dispatch_timeout_seconds + settings.bot_ready_timeout_seconds + 10
        )
        self._missing_since: dict[str, float] = {}

    async def run_once(self) -> int:
        """One pass; how many conversations it ended."""
        try:
            return await self._reap_lost() + await self._reap_unclaimed()
        except RedisError as exc:
            # Cannot tell dead from unseen: start counting again once Redis answers.
            self._missing_since.clear()
            logger.debug("reaper: Redis unreachable (%s)", type(exc).__name__)
            return 0

    async def _reap_lost(self) -> int:
        owners = await self._lifecycle.live_owners()
        if not owners:
            self._missing_since.clear()
            return 0
        workers = list(owners)
        alive = await self._alive(workers)
        now = time.monotonic()
        ended = 0
        for worker_id in workers:
            if worker_id in alive:
                self._missing_since.pop(worker_id, None)
                continue
            first_missed = self._missing_since.setdefault(worker_id, now)
            if now - first_missed < LOST_AFTER_SECONDS:
                continue
            ids = owners[worker_id]
            logger.error(
                "worker %s lost (no heartbeat for %.0fs): ending its %d conversations",
                worker_id,
                now - first_missed,
                len(ids),
            )
            ended += await self._end(ids, EndReason.WORKER_LOST)
            self._missing_since.pop(worker_id, None)
        for gone in set(self._missing_since) - set(workers):
            del self._missing_since[gone]
        return ended

    async def _alive(self, workers: list[str]) -> set[str]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for worker_id in workers:
                pipe.exists(self._keys.alive(worker_id))
            found = await pipe.execute()
        return {w for w, exists in zip(workers, found, strict=True) if exists}

    async def _reap_unclaimed(self) -> int:
        ids = await self._lifecycle.unclaimed_since(utcnow() - self._unclaimed_after)
        stranded: list[uuid.UUID] = []
        for conversation_id in ids:
            key = self._keys.owner(conversation_id)
            if await self._redis.set(key, "reaper", nx=True, ex=OWNER_TTL_SECONDS):
                stranded.append(conversation_id)
                continue
            owner = await self._redis.get(key)
            # A worker holds it: its claim in the database is on the way (or it died: the
            # heartbeat tells).
            if owner is None or not await self._redis.exists(self._keys.alive(text(owner))):
                stranded.append(conversation_id)
        if stranded:
            logger.error("ending %d conversations that no worker ever claimed", len(stranded))
        return await self._end(stranded, EndReason.BOT_ERROR)

    async def _end(self, ids: list[uuid.UUID], reason: EndReason) -> int:
        ended = 0
        for conversation_id in ids:
            ended += await self._lifecycle.finish(conversation_id, reason)
        return ended

    async def run_forever(self) -> None:
        """Reap every second until cancelled; a failure is logged and the next pass runs."""
        while True:
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            try:
                await self.run_once()
            except Exception as exc:
                logger.error("reaper: pass failed, retrying: %s", type(exc).__name__)
