"""A worker's control stream: the requests the API forwards for the bots it runs here (a user's
offer and ICE candidates for a local room, stop a bot), each answered on its reply list with a
typed message of `wire`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from src.core.errors import DomainError
from src.rooms.base import RoomProvider
from src.services.bots.protocol import send_reply, text
from src.services.bots.runner import BotRunner
from src.services.bots.wire import (
    Accepted,
    Answer,
    Candidates,
    ControlAnswer,
    ControlRequest,
    Offer,
    Refused,
    StopBot,
    Stopped,
    WireError,
    expect,
)

logger = logging.getLogger(__name__)

# How long a read of the control stream waits for a request.
CONTROL_BLOCK_MS = 1000

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


class Control:
    """Reads the worker's control stream and answers each request.

    Args:
        worker_id: The worker's id.
        redis: Where the stream and the replies are.
        key: The worker's control stream.
        runner: The bots run here (a stop request).
        rooms: The rooms (a local room's signalling).
    """

    def __init__(
        self, worker_id: str, redis: Redis, key: str, runner: BotRunner, rooms: RoomProvider
    ) -> None:
        self._id = worker_id
        self._redis = redis
        self._key = key
        self._runner = runner
        self._rooms = rooms

    async def read(self, spawn: Spawn) -> None:
        """Read the stream from its start, each request answered in a task of `spawn`'s.

        The stream is this worker's alone (its id is never reused), so all it holds is for it.
        Reading from "$" (new entries only) would lose a request added between one read's
        timeout and the next: "$" means after that next read begins. On a loaded machine a
        call's first offer was lost so, and the user got a 503 five seconds later.
        """
        last = "0-0"
        while True:
            try:
                found: Any = await self._redis.xread(
                    {self._key: last}, count=16, block=CONTROL_BLOCK_MS
                )
            except RedisError:
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in found or []:
                for entry_id, fields in entries:
                    last = text(entry_id)
                    spawn(self.answer(fields), f"control-{last}")

    async def answer(self, fields: dict[bytes, bytes]) -> None:
        """Answer one request (a malformed one is refused, or dropped if it has no reply list)."""
        try:
            reply = text(fields[b"reply"])
        except KeyError:
            logger.error("worker %s: dropping a control request with no reply list", self._id)
            return
        try:
            request = expect(fields.get(b"message", b""), (StopBot, Offer, Candidates))
            answer = await self._handle(request)
        except WireError as exc:
            logger.error("worker %s: refusing a control request: %s", self._id, exc)
            answer = Refused("unknown_request", f"not a control request: {exc}")
        except DomainError as exc:
            answer = Refused(exc.code, exc.detail)
        await send_reply(self._redis, reply, answer)

    async def _handle(self, request: ControlRequest) -> ControlAnswer:
        if isinstance(request, StopBot):
            return Stopped(await self._runner.cancel(request.conversation_id, request.reason))
        signalling = self._rooms.signalling
        if signalling is None:
            return Refused("conversation_ended", "No local rooms here.")
        match request:
            case Offer(room=room, body=body):
                return Answer(await signalling.answer_offer(room, body))
            case Candidates(room=room, body=body):
                await signalling.add_candidates(room, body)
                return Accepted()
