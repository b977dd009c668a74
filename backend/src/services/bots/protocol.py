"""What the API and the workers say to each other through Redis, and under which keys.

- ``calls`` (a stream, consumer group ``bots``): one entry per call to start, read by a worker
  only while it has room (``XREADGROUP``); an entry read but never acknowledged by a worker that
  died is taken over by another (``XAUTOCLAIM``).
- ``owner:<conversation>`` (``SET NX`` with a TTL): who decided a call's fate first, a worker
  taking it or the API giving up on it, so a call is never both refused and started.
- ``alive:<worker>`` (a key with a TTL, refreshed every second and as its bot count changes):
  the worker's heartbeat, its bots and load (read by the other workers to share the calls).
  A worker whose key is gone is dead; its conversations end as ``worker_lost``. ``workers`` (a
  sorted set, scored by the last heartbeat's time) lists them without scanning the keyspace.
- ``control:<worker>`` (a stream per worker): requests to one worker (a user's WebRTC offer,
  ICE candidates, stop a bot), each answered on its own reply list.
- ``reply:<id>`` (a list, ``BLPOP``): one request's answers, expiring shortly.

What goes under these keys is typed: one class per message, in `wire`.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from redis.asyncio import Redis

from src.services.bots.wire import Heartbeat, Message, WireError, decode, expect

logger = logging.getLogger(__name__)

GROUP = "bots"
HEARTBEAT_SECONDS = 1.0
ALIVE_TTL_SECONDS = 3
# A worker's heartbeat must be missing this long, with Redis answering, before it counts as dead
# (after a Redis restart every worker is back within one heartbeat).
LOST_AFTER_SECONDS = 3.0
# A call read by a worker but not acknowledged this long was taken by a worker that died.
CLAIM_IDLE_MS = 2000
OWNER_TTL_SECONDS = 600
REPLY_TTL_SECONDS = 60
CALLS_MAXLEN = 10_000
CONTROL_MAXLEN = 1_000


class RedisKeys:
    """The keys of one service in Redis, under its prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.calls = f"{prefix}calls"
        self.workers = f"{prefix}workers"

    def alive(self, worker_id: str) -> str:
        """The worker's heartbeat key."""
        return f"{self.prefix}alive:{worker_id}"

    def control(self, worker_id: str) -> str:
        """The worker's control stream."""
        return f"{self.prefix}control:{worker_id}"

    def owner(self, conversation_id: uuid.UUID) -> str:
        """Who decided the call's fate."""
        return f"{self.prefix}owner:{conversation_id}"

    def new_reply(self) -> str:
        """A fresh reply list for one request."""
        return f"{self.prefix}reply:{uuid.uuid4().hex}"


async def beat(redis: Redis, keys: RedisKeys, heartbeat: Heartbeat) -> None:
    """Write a worker's heartbeat, and forget workers silent for a minute."""
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.alive(heartbeat.id), heartbeat.encode(), ex=ALIVE_TTL_SECONDS)
        pipe.zadd(keys.workers, {heartbeat.id: now})
        pipe.zremrangebyscore(keys.workers, "-inf", now - 60)
        await pipe.execute()


async def live_workers(redis: Redis, keys: RedisKeys) -> list[Heartbeat]:
    """The heartbeats of the workers alive now (a garbled one is logged and left out)."""
    ids: list[Any] = await redis.zrangebyscore(
        keys.workers, time.time() - 2 * ALIVE_TTL_SECONDS, "+inf"
    )
    if not ids:
        return []
    beats = await redis.mget([keys.alive(text(worker_id)) for worker_id in ids])
    found: list[Heartbeat] = []
    for beat in beats:
        if beat is None:
            continue
        try:
            found.append(expect(beat, Heartbeat))
        except WireError as exc:
            logger.error("a worker's heartbeat could not be read: %s", exc)
    return found


async def send_reply(redis: Redis, key: str, message: Message) -> None:
    """Answer a request (the list expires if nobody reads it)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(key, message.encode())
        pipe.expire(key, REPLY_TTL_SECONDS)
        await pipe.execute()


async def wait_reply(redis: Redis, key: str, seconds: float) -> Message | None:
    """The next answer on a reply list, or None after `seconds` seconds.

    Raises:
        WireError: the answer is not a message of the protocol.
    """
    found: Any = await redis.blpop([key], timeout=seconds)
    if found is None:
        return None
    return decode(found[1])


def text(value: bytes | str) -> str:
    """A Redis value as text."""
    return value.decode() if isinstance(value, bytes) else value
