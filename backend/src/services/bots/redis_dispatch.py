"""The API's side of the worker mode: calls go to worker processes through Redis.

The API runs no bot. A start publishes the call on the ``calls`` stream and waits on its own
reply list: ``taken`` from the worker that took it, then ``ready`` or ``failed``. Signalling and
end requests go to the owning worker's control stream (see `protocol`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from src.contract.bot import BotJob, BotServiceUnavailable, NoBotCapacity
from src.core.enums import EndReason
from src.core.settings import Settings
from src.models.conversation import EMBEDDED_OWNER_PREFIX
from src.rooms.base import SIGNALLING_ERRORS, ConversationGone
from src.services.bots.admission import Slot
from src.services.bots.errors import BotStartError, start_error
from src.services.bots.protocol import (
    CALLS_MAXLEN,
    CONTROL_MAXLEN,
    OWNER_TTL_SECONDS,
    RedisKeys,
    live_workers,
    wait_reply,
)
from src.services.bots.wire import (
    Answer,
    Candidates,
    ControlRequest,
    Failed,
    Heartbeat,
    Message,
    Offer,
    Ready,
    Refused,
    StartCall,
    StopBot,
    Stopped,
    Taken,
    WireError,
)

logger = logging.getLogger(__name__)

# How long a worker has to answer a signalling or stop request.
CONTROL_TIMEOUT_SECONDS = 5.0
_UNREADABLE = "The voice bot's worker gave an answer that could not be read. Try again."
# After the API gave up on a call that a worker took at the same instant: that worker's word.
RACE_GRACE_SECONDS = 2.0


class _NoSlot:
    """Workers hold the capacity: nothing to keep in the API."""

    def release(self) -> None:
        return None

    async def release_async(self) -> None:
        return None


class RedisBots:
    """Dispatches calls to worker processes and reaches them for signalling and ends."""

    mode = "workers"

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self._settings = settings
        self.keys = RedisKeys(settings.redis_prefix)

    async def reserve(self) -> _NoSlot:
        try:
            workers = await self.workers()
        except RedisError as exc:
            logger.error("Redis unreachable, refusing a start: %s", type(exc).__name__)
            raise BotServiceUnavailable() from exc
        if not any(not w.draining for w in workers):
            raise NoBotCapacity("No voice bot worker is running just now. Please try again later.")
        return _NoSlot()

    async def start(self, job: BotJob, slot: Slot) -> None:
        cid = job.conversation_id
        reply = self.keys.new_reply()
        timeout = self._settings.dispatch_timeout_seconds
        try:
            await self.redis.xadd(
                self.keys.calls,
                {"message": StartCall(job).encode(), "reply": reply},
                maxlen=CALLS_MAXLEN,
                approximate=True,
            )
            logger.info("conversation %s: call published for the workers", cid)
            message = await wait_reply(self.redis, reply, timeout)
            if message is None:
                if await self.redis.set(
                    self.keys.owner(cid), "api:dispatch-timeout", nx=True, ex=OWNER_TTL_SECONDS
                ):
                    logger.warning("conversation %s: no worker took the call in %ss", cid, timeout)
                    raise NoBotCapacity()
                message = await wait_reply(self.redis, reply, RACE_GRACE_SECONDS)
            if isinstance(message, Taken):
                logger.info("conversation %s: taken by worker %s", cid, message.worker_id)
                message = await wait_reply(
                    self.redis, reply, self._settings.bot_ready_timeout_seconds + RACE_GRACE_SECONDS
                )
        except RedisError as exc:
            logger.error("conversation %s: Redis failed during dispatch: %s", cid, exc)
            raise BotServiceUnavailable() from exc
        except WireError as exc:
            logger.error("conversation %s: a worker's answer could not be read: %s", cid, exc)
            raise BotStartError("the worker's answer could not be read") from exc
        match message:
            case None:
                raise BotStartError("the worker that took the call stopped answering")
            case Ready():
                return
            case Failed(error=error, detail=detail):
                raise start_error(error, detail or "the worker could not start the bot")
            case _:
                raise BotStartError(f"the worker answered {message.type!r} to a call")

    async def stop(
        self, conversation_id: uuid.UUID, worker_id: str | None, reason: EndReason
    ) -> bool:
        if not _is_worker(worker_id):
            return False
        try:
            answer = await self._request(str(worker_id), StopBot(conversation_id, reason))
        except (RedisError, BotServiceUnavailable) as exc:
            # The worker notices the ended conversation on its own within a few seconds.
            logger.warning(
                "conversation %s: could not reach worker %s to stop the bot: %s",
                conversation_id,
                worker_id,
                type(exc).__name__,
            )
            return False
        return isinstance(answer, Stopped) and answer.stopped

    async def offer(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, offer: dict[str, Any]
    ) -> dict[str, Any]:
        answer = await self._signal(worker_id, Offer(room, offer))
        if not isinstance(answer, Answer):
            raise BotServiceUnavailable(_UNREADABLE)
        return dict(answer.answer)

    async def candidates(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, patch: dict[str, Any]
    ) -> None:
        await self._signal(worker_id, Candidates(room, patch))

    async def _signal(self, worker_id: str | None, request: ControlRequest) -> Message:
        if not _is_worker(worker_id):
            raise ConversationGone()
        try:
            if not await self.redis.exists(self.keys.alive(str(worker_id))):
                raise ConversationGone()
            answer = await self._request(str(worker_id), request)
        except RedisError as exc:
            raise BotServiceUnavailable() from exc
        if isinstance(answer, Refused):
            error = SIGNALLING_ERRORS.get(answer.error, ConversationGone)
            raise error(answer.detail)
        return answer

    async def _request(self, worker_id: str, request: ControlRequest) -> Message:
        reply = self.keys.new_reply()
        await self.redis.xadd(
            self.keys.control(worker_id),
            {"message": request.encode(), "reply": reply},
            maxlen=CONTROL_MAXLEN,
            approximate=True,
        )
        try:
            answer = await wait_reply(self.redis, reply, CONTROL_TIMEOUT_SECONDS)
        except WireError as exc:
            logger.error("worker %s: its answer could not be read: %s", worker_id, exc)
            raise BotServiceUnavailable(_UNREADABLE) from exc
        if answer is None:
            raise BotServiceUnavailable("The voice bot's worker did not answer. Try again.")
        return answer

    async def workers(self) -> list[Heartbeat]:
        """Every live worker's heartbeat: id, bots, capacity, load, draining."""
        return await live_workers(self.redis, self.keys)

    async def status(self) -> dict[str, Any]:
        try:
            workers = await self.workers()
        except RedisError:
            return {"mode": self.mode, "redis": "unreachable", "workers": None, "bots": None}
        return {
            "mode": self.mode,
            "redis": "ok",
            "workers": len(workers),
            "bots": sum(w.bots for w in workers),
        }

    async def close(self) -> None:
        await self.redis.aclose()


# How much longer than its longest blocking wait a command may take before its connection is
# given up on (a live Redis answers in milliseconds, a loaded machine's in tens of them).
SOCKET_MARGIN_SECONDS = 4.0


def connect_redis(settings: Settings, longest_wait_seconds: float | None = None) -> Redis:
    """A Redis client for REDIS_URL that fails fast when Redis is down, and tries once more on a
    pooled connection that a restarted Redis closed (the asyncio `Retry`: redis-py's sync one
    would hand back the coroutine unawaited and retry nothing).

    `longest_wait_seconds`: the longest blocking command its user sends (default: the API's
    BLPOP for a bot's readiness, DISPATCH_TIMEOUT + BOT_READY_TIMEOUT). A command still
    unanswered SOCKET_MARGIN_SECONDS after that gives its connection up: on a connection that
    a network cut left hanging, a worker's next command waited for TCP's retransmissions, and
    the worker took no call for up to 40 s after the cut ended (the machines drill)."""
    if longest_wait_seconds is None:
        longest_wait_seconds = (
            settings.dispatch_timeout_seconds + settings.bot_ready_timeout_seconds
        )
    return Redis.from_url(
        str(settings.redis_url),
        socket_connect_timeout=2,
        socket_timeout=longest_wait_seconds + SOCKET_MARGIN_SECONDS,
        health_check_interval=5,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )


def _is_worker(worker_id: str | None) -> bool:
    return bool(worker_id) and not str(worker_id).startswith(EMBEDDED_OWNER_PREFIX)
