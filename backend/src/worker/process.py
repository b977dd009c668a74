"""One worker process: loads the models once and runs up to MAX_BOTS_PER_WORKER bots.

It takes a call from the ``calls`` stream only while it has room (below its bot count and the
load threshold), and leaves it to a worker that carries less when one could take it
(`handoff_seconds`); records in the database that it owns the conversation, runs the bot on the
same `BotHost` as the embedded API (`services/host.py`), and answers the control requests the
API forwards (`control.py`). Its heartbeat, its lease and the fence are `liveness.py`'s. On
SIGTERM it drains: no new call, its calls go on until they end or DRAIN_TIMEOUT_SECONDS, then
it exits 0.

    python -m src.worker.process        # one worker; `python -m src.worker` supervises several
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from src.contract.bot import BotCapacityReached, BotJob, RunBot
from src.core.heap import freeze_startup_objects
from src.core.logging import configure_logging, set_worker_id
from src.core.settings import Settings, get_settings
from src.rooms.base import RoomProvider
from src.services.bots.admission import Admission, Reservation
from src.services.bots.errors import BotStartError
from src.services.bots.load import LoadMonitor
from src.services.bots.protocol import (
    CLAIM_IDLE_MS,
    GROUP,
    OWNER_TTL_SECONDS,
    RedisKeys,
    live_workers,
    send_reply,
    text,
)
from src.services.bots.redis_dispatch import connect_redis
from src.services.bots.runner import BotRunner
from src.services.bots.wire import (
    Failed,
    Heartbeat,
    Ready,
    StartCall,
    Taken,
    WireError,
    expect,
)
from src.services.conversations.leases import WorkerLeases
from src.services.host import BotHost, load_voice_bot
from src.worker.control import CONTROL_BLOCK_MS, Control
from src.worker.liveness import Liveness

logger = logging.getLogger(__name__)

# How often the worker stops bots whose conversation was ended elsewhere, and retries ends.
HOUSEKEEPING_SECONDS = 2.0
# How long the intake's read of the calls stream waits for a call.
INTAKE_BLOCK_MS = 500
# How long a worker that carries more than a peer which could take the call leaves it to that
# peer before it looks again (`handoff_seconds`), for each bot it carries beyond the margin, up
# to HANDOFF_MAX_SECONDS. Redis hands a new entry to the reader that has waited longest,
# whatever it carries: two workers took 34 and 22 of 56 calls started together (2026-12-07),
# and the one with 34 failed the step. A lighter worker that waits for a call gets it at once;
# one busy starting other bots comes back later, and the further behind it is, the longer the
# heavier one leaves it the call (a flat 50 ms still let 18/15 through on a slow machine).
# Meanwhile the heavier one polls (four Redis commands each time).
HANDOFF_SECONDS = 0.05
HANDOFF_MAX_SECONDS = 0.25
# How many bots more than a peer a worker carries before it leaves calls to that peer: a bot
# ahead gives no call a wait (sequential starts: one worker still ending the last call's bot).
HANDOFF_MARGIN = 2
# The longest a worker's Redis command blocks: its intake's read or its control stream's.
LONGEST_REDIS_WAIT_SECONDS = max(INTAKE_BLOCK_MS, CONTROL_BLOCK_MS) / 1000


def handoff_seconds(
    me: str, held: int, capacity: int, peers: list[Heartbeat], load_threshold: float = 1.0
) -> float:
    """How long to leave the next call to a lighter worker: 0 unless a live peer that could
    take it (not draining, a slot free, its load under `load_threshold`) carries a smaller share
    of its capacity than this one (`held` of `capacity`) by HANDOFF_MARGIN bots or more; then
    HANDOFF_SECONDS for each bot from the margin on (the lightest such peer counts), at most
    HANDOFF_MAX_SECONDS."""
    mine = held / capacity if capacity else 1.0
    ahead = 0.0  # by how many of this worker's bots it leads the lightest peer
    for beat in peers:
        if beat.id == me or beat.draining or beat.capacity <= 0 or beat.bots >= beat.capacity:
            continue
        if load_threshold < 1 and beat.load >= load_threshold:
            continue
        ahead = max(ahead, round((mine - beat.bots / beat.capacity) * capacity, 6))
    if ahead < HANDOFF_MARGIN:
        return 0.0
    return min(HANDOFF_MAX_SECONDS, HANDOFF_SECONDS * (int(ahead) - HANDOFF_MARGIN + 1))


def new_worker_id() -> str:
    """A worker id that is never reused: host, pid and a random part."""
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Takes calls from Redis and runs their bots until told to drain."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        runner: BotRunner,
        rooms: RoomProvider,
        leases: WorkerLeases | None = None,
    ) -> None:
        self.settings = settings
        self.id = runner.owner_id
        self._redis = redis
        self._runner = runner
        self._keys = RedisKeys(settings.redis_prefix)
        self._admission = runner.admission
        self._draining = asyncio.Event()
        # Set when its count changes or a drain begins: a worker leaving calls to a lighter
        # one looks again at once (lighter itself now, it reads as usual).
        self._changed = asyncio.Event()
        self._admission.watch(self._changed.set)
        self._grace = settings.drain_timeout_seconds
        self.liveness = Liveness(self.id, redis, self._keys, runner, self._draining.is_set, leases)
        self.control = Control(self.id, redis, self._keys.control(self.id), runner, rooms)
        self._tasks: set[asyncio.Task[Any]] = set()

    def has_room(self) -> bool:
        """Below its bot count and the load threshold, and not draining."""
        return not self._draining.is_set() and self._admission.has_room

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "worker %s: task %s failed: %r", self.id, task.get_name(), task.exception()
            )

    async def run(self) -> None:
        """Work until `drain` is called and the bots have ended."""
        background = [
            *self.liveness.tasks(),
            asyncio.create_task(self.control.read(self._spawn), name="control"),
        ]
        if self._admission.load is not None:
            background.append(asyncio.create_task(self._admission.load.run_forever(), name="load"))
        logger.info("worker %s: taking calls (up to %d bots)", self.id, self._admission.capacity)
        try:
            await self._intake()
            logger.info(
                "worker %s: draining, %d calls still live", self.id, self._runner.active_count
            )
            await self._runner.drain(self._grace)
        finally:
            for task in [*background, *self._tasks]:
                task.cancel()
            for task in [*background, *self._tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.liveness.withdraw()
        logger.info("worker %s: stopped", self.id)

    def drain(self, grace_seconds: float | None = None) -> None:
        """Take no new call; `run` returns once the live calls have ended, or after
        `grace_seconds` (default DRAIN_TIMEOUT_SECONDS; 0 ends them now as `server_shutdown`)."""
        if grace_seconds is not None:
            self._grace = min(self._grace, grace_seconds)
        if not self._draining.is_set():
            logger.info("worker %s: drain requested (grace %.0fs)", self.id, self._grace)
        self._draining.set()
        self._changed.set()

    async def _intake(self) -> None:
        await self._ensure_group()
        while not self._draining.is_set():
            if not self.has_room():
                await _wait(self._draining, 0.1)
                continue
            try:
                entry = await self._next_call()
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group()  # Redis restarted empty
                continue
            except RedisError:
                await _wait(self._draining, 1.0)
                continue
            if entry is not None:
                await self._take(*entry)

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._keys.calls, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        except RedisError:
            pass

    async def _next_call(self) -> tuple[str, dict[bytes, bytes]] | None:
        # First a call a dead worker read and never took, then a new one.
        claimed: Any = await self._redis.xautoclaim(
            self._keys.calls, GROUP, self.id, min_idle_time=CLAIM_IDLE_MS, start_id="0-0", count=1
        )
        if claimed[1]:
            entry_id, fields = claimed[1][0]
            logger.warning(
                "worker %s: took over call entry %s from a dead worker", self.id, text(entry_id)
            )
            return text(entry_id), fields
        block: int | None = INTAKE_BLOCK_MS
        self._changed.clear()
        handoff = handoff_seconds(
            self.id,
            self._admission.held,
            self._admission.capacity,
            await live_workers(self._redis, self._keys),
            self._admission.load_threshold,
        )
        if handoff:
            # Not queued among the readers: a call that comes now goes to the lighter one, and
            # what it has not taken by then is read here without waiting.
            await _wait(self._changed, handoff)
            block = None
        found: Any = await self._redis.xreadgroup(
            GROUP, self.id, {self._keys.calls: ">"}, count=1, block=block
        )
        for _stream, entries in found or []:
            for entry_id, fields in entries:
                return text(entry_id), fields
        return None

    async def _take(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            job = expect(fields[b"message"], StartCall).job
            reply = text(fields[b"reply"])
        except (KeyError, WireError) as exc:
            logger.error(
                "worker %s: dropping a malformed call entry %s: %s", self.id, entry_id, exc
            )
            await self._redis.xack(self._keys.calls, GROUP, entry_id)
            return
        owned = await self._redis.set(
            self._keys.owner(job.conversation_id), self.id, nx=True, ex=OWNER_TTL_SECONDS
        )
        await self._redis.xack(self._keys.calls, GROUP, entry_id)
        if not owned:
            logger.info(
                "conversation %s: call already decided elsewhere, skipped", job.conversation_id
            )
            return
        try:
            reservation = self._admission.reserve()
        except BotCapacityReached:
            # A drain began since the call was read: the API fails it at once.
            await send_reply(self._redis, reply, Failed(error=None, detail="worker draining"))
            return
        await send_reply(self._redis, reply, Taken(self.id))
        self._spawn(self._start(job, reservation, reply), f"start-{job.conversation_id}")

    async def _start(self, job: BotJob, reservation: Reservation, reply: str) -> None:
        answer: Failed | Ready
        try:
            await self._runner.start(job, reservation)
        except BotStartError as exc:
            answer = Failed(error=exc.code, detail=str(exc))
        else:
            answer = Ready(self.id)
        try:
            await send_reply(self._redis, reply, answer)
        except RedisError as exc:
            # The API gives up waiting and ends the conversation; this bot then stops itself.
            logger.error(
                "conversation %s: could not tell the API (%s): %s",
                job.conversation_id,
                answer.type,
                exc,
            )


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def serve(settings: Settings, run_bot: RunBot | None = None) -> None:
    """Run one worker until SIGTERM (drain: the calls go on until they end) or SIGINT (Ctrl-C:
    the calls end now)."""
    if not settings.redis_url:
        raise SystemExit("REDIS_URL is not set: workers take their calls from Redis.")
    worker_id = new_worker_id()
    set_worker_id(worker_id)
    host = BotHost(settings, "worker")
    redis = connect_redis(settings, LONGEST_REDIS_WAIT_SECONDS)
    try:
        started = time.monotonic()
        bot = run_bot or await load_voice_bot(settings)
        logger.info("worker %s: models loaded in %.1fs", worker_id, time.monotonic() - started)
        freeze_startup_objects()
        admission = Admission(
            settings.max_bots_per_worker,
            load=LoadMonitor(),
            load_threshold=settings.worker_load_threshold,
        )
        runner = host.run_bots(bot, owner_id=worker_id, admission=admission)
        host.sweep(HOUSEKEEPING_SECONDS)
        host.reap(redis)
        worker = Worker(settings, redis, runner, host.rooms, host.recovery.leases)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, worker.drain)
        loop.add_signal_handler(signal.SIGINT, worker.drain, 0.0)
        await worker.run()
    finally:
        await host.close()
        await redis.aclose()


def main() -> None:
    """Command line entry point."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.pipecat_log_level, settings.log_format)
    for warning in settings.production_warnings():
        logger.warning("%s", warning)
    asyncio.run(serve(settings))
    sys.exit(0)


if __name__ == "__main__":
    main()
