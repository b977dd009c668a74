"""The API's side of the worker mode: calls go to worker processes through Redis.

The API runs no bot. A start publishes the call on the ``calls`` stream and waits on its own
reply list: ``taken`` from the worker that took it, then ``ready`` or ``failed``. Signalling and
end requests go to the owning worker's control stream (see `protocol`).
"""

from __future__ import annotations

import json
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
from src.services.bots.protocol import (
    CALLS_MAXLEN,
    CONTROL_MAXLEN,
    OWNER_TTL_SECONDS,
    RedisKeys,
    live_workers,
    wait_reply,
)
from src.services.bots.runner import BotStartError, Slot, start_error

logger = logging.getLogger(__name__)

# How long a worker has to answer a signalling or stop request.
CONTROL_TIMEOUT_SECONDS = 5.0
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
        if not any(not w.get("draining") for w in workers):
            raise NoBotCapacity("No voice bot worker is running just now. Please try again later.")
        return _NoSlot()

    async def start(self, job: BotJob, slot: Slot) -> None:
        cid = job.conversation_id
        reply = self.keys.new_reply()
        timeout = self._settings.dispatch_timeout_seconds
        try:
            await self.redis.xadd(
                self.keys.calls,
                {"job": job.to_json(), "reply": reply},
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
            if message is not None and message["event"] == "taken":
                logger.info("conversation %s: taken by worker %s", cid, message["worker_id"])
                message = await wait_reply(
                    self.redis, reply, self._settings.bot_ready_timeout_seconds + RACE_GRACE_SECONDS
                )
        except RedisError as exc:
            logger.error("conversation %s: Redis failed during dispatch: %s", cid, exc)
            raise BotServiceUnavailable() from exc
        if message is None:
            raise BotStartError("the worker that took the call stopped answering")
        if message["event"] != "ready":
            detail = str(message.get("detail") or "the worker could not start the bot")
            raise start_error(message.get("error"), detail)

    async def stop(
        self, conversation_id: uuid.UUID, worker_id: str | None, reason: EndReason
    ) -> None:
        if not _is_worker(worker_id):
            return
        try:
            await self._request(
                str(worker_id),
                {"op": "stop", "conversation_id": str(conversation_id), "reason": reason.value},
            )
        except (RedisError, BotServiceUnavailable) as exc:
            # The worker notices the ended conversation on its own within a few seconds.
            logger.warning(
                "conversation %s: could not reach worker %s to stop the bot: %s",
                conversation_id,
                worker_id,
                type(exc).__name__,
            )

    async def offer(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, offer: dict[str, Any]
    ) -> dict[str, Any]:
        answer = await self._signal(worker_id, {"op": "offer", "room": room, "body": offer})
        return dict(answer["answer"])

    async def candidates(
        self, conversation_id: uuid.UUID, worker_id: str | None, room: str, patch: dict[str, Any]
    ) -> None:
        await self._signal(worker_id, {"op": "candidates", "room": room, "body": patch})

    async def _signal(self, worker_id: str | None, request: dict[str, Any]) -> dict[str, Any]:
        if not _is_worker(worker_id):
            raise ConversationGone()
        try:
            if not await self.redis.exists(self.keys.alive(str(worker_id))):
                raise ConversationGone()
            answer = await self._request(str(worker_id), request)
        except RedisError as exc:
            raise BotServiceUnavailable() from exc
        if not answer.get("ok"):
            error = SIGNALLING_ERRORS.get(str(answer.get("error")), ConversationGone)
            raise error(answer.get("detail"))
        return answer

    async def _request(self, worker_id: str, request: dict[str, Any]) -> dict[str, Any]:
        reply = self.keys.new_reply()
        await self.redis.xadd(
            self.keys.control(worker_id),
            {"request": json.dumps(request), "reply": reply},
            maxlen=CONTROL_MAXLEN,
            approximate=True,
        )
        answer = await wait_reply(self.redis, reply, CONTROL_TIMEOUT_SECONDS)
        if answer is None:
            raise BotServiceUnavailable("The voice bot's worker did not answer. Try again.")
        return answer

    async def workers(self) -> list[dict[str, Any]]:
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
            "bots": sum(int(w.get("bots", 0)) for w in workers),
        }

    async def close(self) -> None:
        await self.redis.aclose()


def connect_redis(settings: Settings) -> Redis:
    """A Redis client for REDIS_URL that fails fast when Redis is down, and tries once more on a
    pooled connection that a restarted Redis closed (the asyncio `Retry`: redis-py's sync one
    would hand back the coroutine unawaited and retry nothing)."""
    # The socket timeout outlasts the longest blocking wait (BLPOP for a bot's readiness);
    # redis-py's default of 5 s would cut a wait short.
    longest_wait = settings.dispatch_timeout_seconds + settings.bot_ready_timeout_seconds
    return Redis.from_url(
        str(settings.redis_url),
        socket_connect_timeout=2,
        socket_timeout=longest_wait + 10,
        health_check_interval=5,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )


def _is_worker(worker_id: str | None) -> bool:
    return bool(worker_id) and not str(worker_id).startswith(EMBEDDED_OWNER_PREFIX)
