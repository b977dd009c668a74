"""Recovery: whatever a crash, an outage or a lost worker left undone is finished here.

- Owed ends: a bot's end that could not be recorded (the database was down) is kept in memory
  and recorded by the next sweep.
- The sweep: rooms still owed a deletion by ended conversations, stale idempotency keys, and
  bots whose conversation was ended by a request that could not reach their process.
- Reconciliation after a restart: conversations an earlier embedded process left live end as
  `server_restart`.
- The reaper (`WorkerReaper`): ownership by liveness; the conversations of a worker that died
  (its heartbeat missing and its lease stale, `leases.py`) end as `worker_lost`, and calls that
  no worker ever claimed as `bot_error`.

Every end goes through `ConversationLifecycle.finish`, which records it once whoever sees it
first (it locks the row).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, or_, select

from src.core.clock import utcnow
from src.core.database import Database
from src.core.enums import LIVE_STATUSES, EndReason
from src.core.settings import Settings
from src.models.conversation import EMBEDDED_OWNER_PREFIX, Conversation
from src.models.idempotency import IdempotencyKey
from src.services.bots.protocol import LOST_AFTER_SECONDS, OWNER_TTL_SECONDS, RedisKeys, text
from src.services.conversations.leases import WorkerLeases
from src.services.conversations.lifecycle import ConversationLifecycle

logger = logging.getLogger(__name__)

REAP_INTERVAL_SECONDS = 1.0


class RunningBots(Protocol):
    """The bots this process runs, as the sweep sees them (`BotRunner`)."""

    def ready_ids(self) -> list[uuid.UUID]:
        """The conversations whose bot is running and was ready."""
        ...

    async def cancel(self, conversation_id: uuid.UUID, reason: EndReason) -> bool:
        """Stop a conversation's bot and wait until it has ended."""
        ...


class Recovery:
    """Owed ends, the sweep and reconciliation of one process.

    Args:
        database: The database.
        lifecycle: Records the ends.
        settings: The sweep's interval and the idempotency keys' lifetime.

    Attributes:
        leases: The workers' leases (the worker mode).
    """

    def __init__(
        self, database: Database, lifecycle: ConversationLifecycle, settings: Settings
    ) -> None:
        self._database = database
        self._lifecycle = lifecycle
        self._settings = settings
        self._owed_ends: dict[uuid.UUID, EndReason] = {}
        self.leases = WorkerLeases(database)

    async def finish(self, conversation_id: uuid.UUID, reason: EndReason) -> None:
        """End the conversation now, or, if the database cannot be written, keep the end and
        record it in a later sweep (a bot's end is never lost to an outage)."""
        try:
            await self._lifecycle.finish(conversation_id, reason)
        except Exception as exc:
            self._owed_ends[conversation_id] = reason
            logger.error(
                "conversation %s: could not record its end (%s), will retry: %s",
                conversation_id,
                reason.value,
                _describe(exc),
            )

    async def record_owed_ends(self) -> int:
        """Record the ends that failed to be recorded; how many were recorded now."""
        recorded = 0
        for conversation_id, reason in list(self._owed_ends.items()):
            try:
                await self._lifecycle.finish(conversation_id, reason)
            except Exception as exc:
                logger.warning(
                    "conversation %s: its end is still not recorded: %s",
                    conversation_id,
                    _describe(exc),
                )
                return recorded
            del self._owed_ends[conversation_id]
            recorded += 1
        return recorded

    async def stop_ended(self, bots: RunningBots) -> int:
        """Stop the bots whose conversation was ended elsewhere (an end request that could not
        reach this process); how many were stopped."""
        ids = bots.ready_ids()
        if not ids:
            return 0
        ended = await self._lifecycle.ended_among(ids)
        for conversation_id, reason in ended.items():
            await bots.cancel(conversation_id, reason)
        return len(ended)

    async def sweep(self, min_age_seconds: float = 30.0) -> int:
        """Retry room deletions still owed by ended conversations; drop stale idempotency keys.
        How many rooms were deleted."""
        async with self._database.sessionmaker.begin() as session:
            rows = (
                await session.execute(
                    select(Conversation.id, Conversation.daily_room_id).where(
                        Conversation.status.not_in(LIVE_STATUSES),
                        Conversation.daily_room_id.is_not(None),
                        Conversation.room_deleted_at.is_(None),
                        # Leave just-ended ones to the path that is deleting their room now.
                        Conversation.ended_at <= utcnow() - timedelta(seconds=min_age_seconds),
                    )
                )
            ).all()
            cutoff = utcnow() - timedelta(seconds=self._settings.idempotency_ttl_seconds)
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
        deleted = 0
        for conversation_id, room_name in rows:
            deleted += await self._lifecycle.delete_room(conversation_id, str(room_name))
        return deleted

    async def run_forever(self, bots: RunningBots | None, interval: float | None = None) -> None:
        """Sweep every `interval` seconds (default ROOM_SWEEP_INTERVAL_SECONDS) until cancelled:
        owed ends, bots of ended calls (if this process runs bots), rooms and keys."""
        interval = interval or self._settings.room_sweep_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                await self.record_owed_ends()
                if bots is not None:
                    await self.stop_ended(bots)
                await self.sweep()
            except Exception as exc:
                logger.error("the sweep failed, it runs again later: %s", type(exc).__name__)

    async def reconcile_after_restart(self) -> int:
        """End the conversations a previous embedded process left live (`server_restart`).

        Only those whose bot ran in an embedded process (or never started): a worker's
        conversations are ended by worker liveness (`WorkerReaper`), never by a restart.
        """
        try:
            async with self._database.sessionmaker() as session:
                ids = (
                    await session.scalars(
                        select(Conversation.id).where(
                            Conversation.status.in_(LIVE_STATUSES),
                            or_(
                                Conversation.worker_id.is_(None),
                                Conversation.worker_id.startswith(EMBEDDED_OWNER_PREFIX),
                            ),
                        )
                    )
                ).all()
            ended = await self.end_all(list(ids), EndReason.SERVER_RESTART)
        except Exception:
            logger.exception("could not reconcile conversations left by a previous process")
            return 0
        if ended:
            logger.warning("ended %d conversations left live by a previous process", ended)
        return ended

    async def live_owners(self) -> dict[str, list[uuid.UUID]]:
        """The live conversations of each worker process that runs bots."""
        async with self._database.sessionmaker() as session:
            rows = await session.execute(
                select(Conversation.worker_id, Conversation.id).where(
                    Conversation.status.in_(LIVE_STATUSES),
                    Conversation.worker_id.is_not(None),
                    Conversation.worker_id.not_like(f"{EMBEDDED_OWNER_PREFIX}%"),
                )
            )
        owners: dict[str, list[uuid.UUID]] = {}
        for worker_id, conversation_id in rows:
            owners.setdefault(str(worker_id), []).append(conversation_id)
        return owners

    async def unclaimed_since(self, cutoff: datetime) -> list[uuid.UUID]:
        """Live conversations started before `cutoff` that no process has claimed."""
        async with self._database.sessionmaker() as session:
            ids = await session.scalars(
                select(Conversation.id).where(
                    Conversation.status.in_(LIVE_STATUSES),
                    Conversation.worker_id.is_(None),
                    Conversation.started_at < cutoff,
                )
            )
        return list(ids)

    async def end_all(self, ids: list[uuid.UUID], reason: EndReason) -> int:
        """End these conversations; how many were still live."""
        ended = 0
        for conversation_id in ids:
            ended += await self._lifecycle.finish(conversation_id, reason)
        return ended


class WorkerReaper:
    """Ends the conversations of dead workers, and of calls that no worker ever claimed.

    Every API process and every worker runs one. Nothing is ended while Redis cannot be read:
    a heartbeat that cannot be seen is not a dead worker; nor while the worker's lease in the
    database is held: a worker cut off from Redis alone still serves its calls.
    """

    def __init__(self, redis: Redis, settings: Settings, recovery: Recovery) -> None:
        self._redis = redis
        self._keys = RedisKeys(settings.redis_prefix)
        self._recovery = recovery
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
        owners = await self._recovery.live_owners()
        if not owners:
            self._missing_since.clear()
            return 0
        workers = list(owners)
        alive = await self._alive(workers)
        held = await self._recovery.leases.held([w for w in workers if w not in alive])
        now = time.monotonic()
        ended = 0
        for worker_id in workers:
            if worker_id in alive:
                self._missing_since.pop(worker_id, None)
                continue
            first_missed = self._missing_since.setdefault(worker_id, now)
            if now - first_missed < LOST_AFTER_SECONDS or worker_id in held:
                continue
            ids = owners[worker_id]
            logger.error(
                "worker %s lost (no heartbeat for %.0fs, lease stale): ending its %d conversations",
                worker_id,
                now - first_missed,
                len(ids),
            )
            ended += await self._recovery.end_all(ids, EndReason.WORKER_LOST)
            await self._recovery.leases.drop(worker_id)
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
        ids = await self._recovery.unclaimed_since(utcnow() - self._unclaimed_after)
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
        return await self._recovery.end_all(stranded, EndReason.BOT_ERROR)

    async def run_forever(self) -> None:
        """Reap every second until cancelled; a failure is logged and the next pass runs."""
        while True:
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            try:
                await self.run_once()
            except Exception as exc:
                logger.error("reaper: pass failed, retrying: %s", type(exc).__name__)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
