"""The transcript: every line spoken in a conversation, stored as it happens.

The bot hands each line over without waiting (`TranscriptWriter.add` never blocks the audio);
a background task writes them in batches, in spoken order. While the database is down the lines
wait in memory (up to `max_buffered`, the oldest dropped beyond that, with an error logged) and
are written once it is back. Lines of a conversation deleted meanwhile are dropped, never
written back. A crash of the process loses the lines not yet written (at most about
`FLUSH_SECONDS` of speech): what is stored stays stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.clock import utcnow
from src.core.database import Database
from src.core.enums import MessageRole, MessageSource
from src.models.conversation import Conversation
from src.models.message import ConversationMessage

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25
RETRY_SECONDS = 1.0
BATCH = 200


@dataclass(frozen=True)
class Line:
    """One line waiting to be written."""

    conversation_id: uuid.UUID
    role: MessageRole
    text: str
    said_at: datetime
    kinds: tuple[str, ...] = ()
    source: MessageSource = MessageSource.VOICE
    interrupted: bool = False


class TranscriptWriter:
    """Writes transcript lines in the background; see the module docstring."""

    def __init__(self, database: Database, *, max_buffered: int = 10_000) -> None:
        self._database = database
        self._lines: deque[Line] = deque()
        self._max = max_buffered
        self._wake = asyncio.Event()
        self._last_at: datetime | None = None
        self._failing = False
        # One flush at a time: a bot's end flushes too, beside the background task.
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Lines not written yet."""
        return len(self._lines)

    def add(
        self,
        conversation_id: uuid.UUID,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        """Queue a line said (or typed) now, with the number kinds it told about (never
        blocks)."""
        said_at = utcnow()
        if self._last_at is not None and said_at <= self._last_at:
            said_at = self._last_at + timedelta(microseconds=1)  # keeps the spoken order
        self._last_at = said_at
        if len(self._lines) >= self._max:
            dropped = self._lines.popleft()
            logger.error(
                "conversation %s: transcript buffer full (database down?), a line is lost",
                dropped.conversation_id,
            )
        self._lines.append(Line(conversation_id, role, text, said_at, kinds, source, interrupted))
        self._wake.set()

    async def flush(self) -> int:
        """Write what is queued; how many lines were written. Raises if the database fails."""
        written = 0
        async with self._lock:
            while self._lines:
                batch = [self._lines[i] for i in range(min(BATCH, len(self._lines)))]
                async with self._database.sessionmaker.begin() as session:
                    written += await _write(session, batch)
                for _ in batch:
                    self._lines.popleft()
        return written

    async def run_forever(self) -> None:
        """Write in the background until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                if not self._failing:
                    logger.error(
                        "transcript: %d lines wait for the database (%s)",
                        len(self._lines),
                        type(exc).__name__,
                    )
                self._failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if self._failing:
                logger.info("transcript: the database is back, the waiting lines are written")
                self._failing = False

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Write what is left, trying for up to `grace_seconds`."""
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while self._lines:
            try:
                await self.flush()
            except Exception as exc:
                if asyncio.get_running_loop().time() > deadline:
                    logger.error(
                        "transcript: %d lines could not be written before stopping (%s)",
                        len(self._lines),
                        type(exc).__name__,
                    )
                    return
                await asyncio.sleep(0.2)


async def _write(session: AsyncSession, batch: list[Line]) -> int:
    # Lines of conversations deleted meanwhile are dropped, not written back.
    ids = {line.conversation_id for line in batch}
    found = (
        await session.execute(
            select(Conversation.id, Conversation.ended_at, Conversation.topics).where(
                Conversation.id.in_(ids)
            )
        )
    ).all()
    existing = {conversation_id for conversation_id, _, _ in found}
    rows = [
        {
            "id": uuid.uuid4(),
            "conversation_id": line.conversation_id,
            "role": line.role.value,
            "text": line.text,
            "created_at": line.said_at,
            "kinds": list(line.kinds) or None,
            "source": line.source.value,
            "interrupted": line.interrupted,
        }
        for line in batch
        if line.conversation_id in existing
    ]
    if rows:
        await session.execute(insert(ConversationMessage), rows)
    for conversation_id, ended_at, stored in found:
        # An end request can come while the last lines still wait here (up to FLUSH_SECONDS):
        # the kinds of a line written after its conversation ended join the stored topics.
        late = [k for line in batch if line.conversation_id == conversation_id for k in line.kinds]
        merged = list(dict.fromkeys([*(stored or []), *late]))
        if ended_at is not None and merged != (stored or []):
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(topics=merged)
            )
    return len(rows)


async def page(
    session: AsyncSession, conversation_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[ConversationMessage], int]:
    """A page of a conversation's lines in spoken order, and how many there are."""
    total = await session.scalar(
        select(func.count())
        .select_from(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
    )
    rows = await session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def topics(session: AsyncSession, conversation_id: uuid.UUID) -> list[str]:
    """The number kinds a conversation's stored lines told about, first-mentioned first."""
    rows = await session.scalars(
        select(ConversationMessage.kinds)
        .where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.kinds.is_not(None),
        )
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
    )
    return list(dict.fromkeys(kind for kinds in rows for kind in kinds or ()))
