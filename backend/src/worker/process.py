"""One worker process: loads the models once and runs up to MAX_BOTS_PER_WORKER bots.

It takes a call from the ``calls`` stream only while it has room (below its bot count and the
load threshold), records in the database that it owns the conversation, runs the bot with the
same `BotRunner` as the embedded mode, and answers the control requests the API forwards (a
user's offer and ICE candidates, stop a bot). Its heartbeat is a key with a TTL; on SIGTERM it
drains: no new call, its calls go on until they end or DRAIN_TIMEOUT_SECONDS, then it exits 0.

    python -m src.worker.process        # one worker; `python -m src.worker` supervises several
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from src.contract.bot import BotCapacityReached, BotJob, RunBot
from src.core.database import Database
from src.core.enums import EndReason
from src.core.errors import DomainError
from src.core.logging import configure_logging, set_worker_id
from src.core.settings import Settings, get_settings
from src.rooms import create_room_provider
from src.rooms.base import RoomProvider
from src.services.bots import protocol
from src.services.bots.host import load_voice_bot, sweep_forever
from src.services.bots.protocol import (
    CLAIM_IDLE_MS,
    GROUP,
    HEARTBEAT_SECONDS,
    OWNER_TTL_SECONDS,
    RedisKeys,
    send_reply,
    text,
)
from src.services.bots.reaper import WorkerReaper
from src.services.bots.redis_dispatch import connect_redis
from src.services.bots.runner import BotRunner, BotStartError, Reservation
from src.services.conversations.lifecycle import ConversationLifecycle
from src.services.conversations.transcript import TranscriptWriter
from src.services.webhooks import outbox
from src.worker.load import LoadMonitor

logger = logging.getLogger(__name__)

# How often the worker stops bots whose conversation was ended elsewhere, and retries ends.
HOUSEKEEPING_SECONDS = 2.0


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
        lifecycle: ConversationLifecycle,
    ) -> None:
        self.settings = settings
        self.id = runner.owner_id
        self._redis = redis
        self._runner = runner
        self._rooms = rooms
        self._lifecycle = lifecycle
        self._keys = RedisKeys(settings.redis_prefix)
        self.load = LoadMonitor()
        self._draining = asyncio.Event()
        self._grace = settings.drain_timeout_seconds
        self._tasks: set[asyncio.Task[Any]] = set()
        self._redis_down_logged = False

    def has_room(self) -> bool:
        """Below its bot count and the load threshold, and not draining."""
        return (
            not self._draining.is_set()
            and self._runner.has_room
            and (
                self.settings.worker_load_threshold >= 1
                or self.load.value < self.settings.worker_load_threshold
            )
        )

    def _spawn(self, coro: Any, name: str) -> None:
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
            asyncio.create_task(self.load.run_forever(), name="load"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
            asyncio.create_task(self._control(), name="control"),
            asyncio.create_task(
                sweep_forever(self._lifecycle, self._runner, self.settings, HOUSEKEEPING_SECONDS),
                name="housekeeping",
            ),
            asyncio.create_task(
                WorkerReaper(self._redis, self.settings, self._lifecycle).run_forever(),
                name="reaper",
            ),
        ]
        logger.info("worker %s: taking calls (up to %d bots)", self.id, self._runner.capacity)
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
            with contextlib.suppress(RedisError):
                await self._redis.delete(self._keys.alive(self.id))
                await self._redis.zrem(self._keys.workers, self.id)
        logger.info("worker %s: stopped", self.id)

    def drain(self, grace_seconds: float | None = None) -> None:
        """Take no new call; `run` returns once the live calls have ended, or after
        `grace_seconds` (default DRAIN_TIMEOUT_SECONDS; 0 ends them now as `server_shutdown`)."""
        if grace_seconds is not None:
            self._grace = min(self._grace, grace_seconds)
        if not self._draining.is_set():
            logger.info("worker %s: drain requested (grace %.0fs)", self.id, self._grace)
        self._draining.set()

    async def _heartbeat(self) -> None:
        while True:
            beat = {
                "id": self.id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "bots": self._runner.active_count,
                "capacity": self._runner.capacity,
                "load": round(self.load.value, 3),
                "draining": self._draining.is_set(),
                "at": time.time(),
            }
            try:
                await protocol.beat(self._redis, self._keys, self.id, beat)
                if self._redis_down_logged:
                    logger.info("worker %s: Redis is back", self.id)
                    self._redis_down_logged = False
            except RedisError as exc:
                if not self._redis_down_logged:
                    logger.error("worker %s: Redis unreachable, calls go on: %s", self.id, exc)
                    self._redis_down_logged = True
            await asyncio.sleep(HEARTBEAT_SECONDS)

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
        found: Any = await self._redis.xreadgroup(
            GROUP, self.id, {self._keys.calls: ">"}, count=1, block=500
        )
        for _stream, entries in found or []:
            for entry_id, fields in entries:
                return text(entry_id), fields
        return None

    async def _take(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        try:
            job = BotJob.from_json(fields[b"job"])
            reply = text(fields[b"reply"])
        except (KeyError, ValueError) as exc:
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
            reservation = self._runner.reserve()
        except BotCapacityReached:
            # A drain began since the call was read: the API fails it at once.
            await send_reply(self._redis, reply, {"event": "failed", "detail": "worker draining"})
            return
        await send_reply(self._redis, reply, {"event": "taken", "worker_id": self.id})
        self._spawn(self._start(job, reservation, reply), f"start-{job.conversation_id}")

    async def _start(self, job: BotJob, reservation: Reservation, reply: str) -> None:
        try:
            await self._runner.start(job, reservation)
        except BotStartError as exc:
            answer: dict[str, Any] = {"event": "failed", "error": exc.code, "detail": str(exc)}
        else:
            answer = {"event": "ready", "worker_id": self.id}
        try:
            await send_reply(self._redis, reply, answer)
        except RedisError as exc:
            # The API gives up waiting and ends the conversation; this bot then stops itself.
            logger.error(
                "conversation %s: could not tell the API (%s): %s",
                job.conversation_id,
                answer["event"],
                exc,
            )

    async def _control(self) -> None:
        key, last = self._keys.control(self.id), "$"
        while True:
            try:
                found: Any = await self._redis.xread({key: last}, count=16, block=1000)
            except RedisError:
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in found or []:
                for entry_id, fields in entries:
                    last = text(entry_id)
                    self._spawn(self._answer(fields), f"control-{last}")

    async def _answer(self, fields: dict[bytes, bytes]) -> None:
        reply = text(fields[b"reply"])
        request = json.loads(fields[b"request"])
        try:
            answer = await self._handle(request)
        except DomainError as exc:
            answer = {"ok": False, "error": exc.code, "detail": exc.detail}
        await send_reply(self._redis, reply, answer)

    async def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "stop":
            stopped = await self._runner.cancel(
                uuid.UUID(request["conversation_id"]), EndReason(request["reason"])
            )
            return {"ok": True, "stopped": stopped}
        signalling = self._rooms.signalling
        if signalling is None:
            return {"ok": False, "error": "conversation_ended", "detail": "No local rooms here."}
        if op == "offer":
            return {
                "ok": True,
                "answer": await signalling.answer_offer(request["room"], request["body"]),
            }
        if op == "candidates":
            await signalling.add_candidates(request["room"], request["body"])
            return {"ok": True}
        return {"ok": False, "error": "unknown_request", "detail": f"unknown op {op!r}"}


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
    database = Database(settings.database_url, application_name="numerologist-worker")
    if settings.webhooks_enabled:
        # Its conversations' events go into the outbox; the API's sender delivers them.
        outbox.enable(database)
    rooms = create_room_provider(settings)
    lifecycle = ConversationLifecycle(database, rooms)
    redis = connect_redis(settings)
    transcript = TranscriptWriter(database)
    writing = asyncio.create_task(transcript.run_forever(), name="transcript")
    started = time.monotonic()
    bot = run_bot or await load_voice_bot(settings)
    logger.info("worker %s: models loaded in %.1fs", worker_id, time.monotonic() - started)
    runner = BotRunner(
        bot,
        lifecycle,
        settings,
        transports=rooms.bot_transport,
        owner_id=worker_id,
        capacity=settings.max_bots_per_worker,
        transcript=transcript,
    )
    worker = Worker(settings, redis, runner, rooms, lifecycle)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.drain)
    loop.add_signal_handler(signal.SIGINT, worker.drain, 0.0)
    try:
        await worker.run()
    finally:
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writing
        await transcript.close()
        await rooms.close()
        await redis.aclose()
        await database.dispose()


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
