"""A conversation's live status, followed from the database (Server-Sent Events' source).

The status and the transcript are written by whichever process runs the bot (this API process,
another one, or a worker), so they are read from the database every `POLL_SECONDS`, in short
sessions: no broker, no connection held between polls. One poller per conversation reads for
every stream that follows it (a user with three tabs open costs one poll, not three), and hands
each stream the news; it stops when the conversation ends or its last stream closes.

A stream yields the current status at once, then each new line and each status change, in that
order within a poll (the last lines come before `ended`), and stops after the end, or with
`Expired` at its deadline (the access token's expiry) or once the owner signs out (the
account's token version, read with the status, moves past the stream's token's). A user has at most
MAX_EVENT_STREAMS_PER_USER streams open in this process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from src.core.database import Database
from src.core.enums import LIVE_STATUSES, ConversationStatus, EndReason
from src.core.errors import DomainError
from src.models.conversation import Conversation
from src.models.message import ConversationMessage
from src.models.user import User
from src.schemas.conversation import ConversationStatusEvent, MessageRead

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# A comment this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Heartbeat:
    """Nothing new for a while: send a comment."""


@dataclass(frozen=True)
class Expired:
    """The stream's access token has expired, or was revoked (`revoked`, a sign-out or a
    password change): the stream closes after this."""

    revoked: bool = False


@dataclass(frozen=True)
class _TokensRevoked:
    """The owner's tokens up to `version` (exclusive) were revoked (internal to the feeds)."""

    version: int


Event = ConversationStatusEvent | MessageRead | Heartbeat | Expired


class TooManyEventStreams(DomainError):
    """A user already has the most event streams open that one user may."""

    status_code = 429
    code = "too_many_event_streams"
    default_detail = (
        "You have too many conversation event streams open. Close one (another tab or window) "
        "and try again."
    )
    retry_after = 5


class _Poller:
    """Reads one conversation for all of its streams; each stream gets a queue of its news."""

    def __init__(
        self,
        database: Database,
        conversation_id: uuid.UUID,
        forget: Callable[[_Poller], None],
    ) -> None:
        self.conversation_id = conversation_id
        self._database = database
        self._forget = forget
        self.finished = False
        # Streams that follow this conversation (counted before their first read).
        self.users = 0
        self.queues: set[asyncio.Queue[Event | _TokensRevoked | None]] = set()
        self.ready = asyncio.Event()
        # The latest status, with `messages` the lines read so far; None: no such conversation.
        self.status: ConversationStatusEvent | None = None
        # The owner's token version (a token older than it is revoked).
        self.token_version = 0

    async def run(self) -> None:
        """Read the status, then poll until the conversation ends or nobody follows it."""
        try:
            self.status, self.token_version = await _status(self._database, self.conversation_id)
            self.ready.set()
            while self.status is not None and self.status.status in LIVE_STATUSES:
                await asyncio.sleep(POLL_SECONDS)
                if self.users == 0:
                    return
                await self._poll(self.status)
        except Exception as exc:
            logger.error(
                "conversation %s: event stream poll failed, streams closed: %s",
                self.conversation_id,
                type(exc).__name__,
            )
        finally:
            # Out of the registry before any await: a stream that comes later gets a new poller.
            self.finished = True
            self._forget(self)
            self.ready.set()
            for queue in self.queues:
                queue.put_nowait(None)  # the end of the stream

    async def _poll(self, before: ConversationStatusEvent) -> None:
        # The status first: the lines stored before an end are then all read below.
        current, token_version = await _status(self._database, self.conversation_id)
        if current is None:  # deleted with its account
            self.status = None
            return
        if token_version != self.token_version:
            self.token_version = token_version
            self._send(_TokensRevoked(token_version))
        seen = before.messages
        lines = await _lines(self._database, self.conversation_id, seen)
        self.status = current.model_copy(update={"messages": seen + len(lines)})
        for line in lines:
            self._send(line)
        if (current.status, current.end_reason) != (before.status, before.end_reason):
            self._send(self.status)

    def _send(self, event: Event | _TokensRevoked) -> None:
        for queue in self.queues:
            queue.put_nowait(event)


class ConversationFeeds:
    """The process's event streams: one poller per followed conversation, capped per user."""

    def __init__(self, database: Database, max_streams_per_user: int) -> None:
        self._database = database
        self._max_per_user = max_streams_per_user
        self._pollers: dict[uuid.UUID, _Poller] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: Counter[uuid.UUID] = Counter()

    def pollers(self) -> int:
        """How many conversations are being polled now."""
        return len(self._pollers)

    def open(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, seconds: float, token_version: int
    ) -> EventStream:
        """A stream of the conversation's events for `seconds` at most, or until the owner's
        tokens of `token_version` are revoked, counted against the user's cap until closed.

        Raises:
            TooManyEventStreams: the user already has MAX_EVENT_STREAMS_PER_USER open (429).
        """
        if self._open[user_id] >= self._max_per_user:
            raise TooManyEventStreams()
        self._open[user_id] += 1
        end = time.monotonic() + seconds
        return EventStream(self, user_id, conversation_id, end, token_version)

    def _release(self, user_id: uuid.UUID) -> None:
        self._open[user_id] -= 1
        if self._open[user_id] <= 0:
            del self._open[user_id]

    def _poller(self, conversation_id: uuid.UUID) -> _Poller:
        poller = self._pollers.get(conversation_id)
        if poller is None:
            poller = _Poller(self._database, conversation_id, self._forget)
            self._pollers[conversation_id] = poller
            task = asyncio.create_task(poller.run(), name=f"events-{conversation_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        poller.users += 1
        return poller

    def _forget(self, poller: _Poller) -> None:
        if self._pollers.get(poller.conversation_id) is poller:
            del self._pollers[poller.conversation_id]

    async def close(self) -> None:
        """Stop every poller (their streams end)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class EventStream:
    """One client's stream; `close()` (also called when `events()` ends) frees its slot."""

    def __init__(
        self,
        feeds: ConversationFeeds,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        end: float,
        token_version: int,
    ) -> None:
        self._feeds = feeds
        self._user_id = user_id
        self._conversation_id = conversation_id
        self._end = end
        self._token_version = token_version
        self._closed = False

    def close(self) -> None:
        """Free the user's slot (once, however often called)."""
        if not self._closed:
            self._closed = True
            self._feeds._release(self._user_id)

    async def events(self) -> AsyncIterator[Event]:
        """The status now, then every new line and status change until the end or the
        deadline."""
        poller = self._feeds._poller(self._conversation_id)
        queue: asyncio.Queue[Event | _TokensRevoked | None] = asyncio.Queue()
        try:
            await poller.ready.wait()
            status = poller.status
            if status is None or (poller.finished and status.status in LIVE_STATUSES):
                return  # gone, or its poll failed just now
            # No await between the snapshot and joining: nothing is missed or sent twice.
            poller.queues.add(queue)
            yield status
            if poller.token_version > self._token_version:  # signed out since the request
                yield Expired(revoked=True)
            elif status.status in LIVE_STATUSES:
                async for event in self._news(queue):
                    yield event
        finally:
            poller.queues.discard(queue)
            poller.users -= 1
            self.close()

    async def _news(
        self, queue: asyncio.Queue[Event | _TokensRevoked | None]
    ) -> AsyncIterator[Event]:
        getter: asyncio.Task[Event | _TokensRevoked | None] | None = None
        try:
            while True:
                left = self._end - time.monotonic()
                if left <= 0:
                    yield Expired()
                    return
                # One get kept across waits: a timed-out wait loses no event.
                getter = getter or asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter}, timeout=min(HEARTBEAT_SECONDS, left))
                if not done:
                    if self._end - time.monotonic() > 0:
                        yield Heartbeat()
                    continue
                event, getter = getter.result(), None
                if event is None:
                    return
                if isinstance(event, _TokensRevoked):
                    if event.version > self._token_version:
                        yield Expired(revoked=True)
                        return
                    continue
                yield event
                if isinstance(event, ConversationStatusEvent) and (
                    event.status not in LIVE_STATUSES
                ):
                    return
        finally:
            if getter is not None:
                getter.cancel()


async def _status(
    database: Database, conversation_id: uuid.UUID
) -> tuple[ConversationStatusEvent | None, int]:
    """The conversation's status (None: no such conversation) and its owner's token version."""
    async with database.sessionmaker() as session:
        row = (
            await session.execute(
                select(Conversation.status, Conversation.end_reason, User.token_version)
                .join(User, User.id == Conversation.user_id)
                .where(Conversation.id == conversation_id)
            )
        ).one_or_none()
        if row is None:
            return None, 0
        count = await session.scalar(
            select(func.count())
            .select_from(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
        )
    status = ConversationStatusEvent(
        status=ConversationStatus(row.status),
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        messages=int(count or 0),
    )
    return status, int(row.token_version)


async def _lines(database: Database, conversation_id: uuid.UUID, after: int) -> list[MessageRead]:
    # Lines are stored in spoken order (one writer per conversation, increasing times), so
    # the ones past the count already sent are the new ones.
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
            .offset(after)
        )
        return [MessageRead.model_validate(row) for row in rows]
