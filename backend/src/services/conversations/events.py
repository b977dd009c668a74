"""A conversation's live status, followed from the database (Server-Sent Events' source).

The status and the transcript are written by whichever process runs the bot (this API process,
another one, or a worker), so each follower reads them from the database every
`POLL_SECONDS`, in short sessions of its own: no broker, no connection held between polls.
It yields the current status at once, then each new line and each status change, in that
order within a poll (the last lines come before `ended`), and stops after the end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import func, select

from src.core.database import Database
from src.core.enums import LIVE_STATUSES, ConversationStatus, EndReason
from src.models.conversation import Conversation
from src.models.message import ConversationMessage
from src.schemas.conversation import ConversationStatusEvent, MessageRead

POLL_SECONDS = 0.5
# A comment this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class Heartbeat:
    """Nothing new for a while: send a comment."""


Event = ConversationStatusEvent | MessageRead | Heartbeat


async def follow(database: Database, conversation_id: uuid.UUID) -> AsyncIterator[Event]:
    """The conversation's status now, then every new line and status change until it ends."""
    status = await _status(database, conversation_id)
    if status is None:
        return
    seen = status.messages
    yield status
    quiet = 0.0
    while status.status in LIVE_STATUSES:
        await asyncio.sleep(POLL_SECONDS)
        # The status first: the lines stored before an end are then all read below.
        current = await _status(database, conversation_id)
        if current is None:  # deleted with its account
            return
        lines = await _lines(database, conversation_id, seen)
        for line in lines:
            yield line
        seen += len(lines)
        changed = (current.status, current.end_reason) != (status.status, status.end_reason)
        status = current
        if changed:
            yield ConversationStatusEvent(
                status=current.status, end_reason=current.end_reason, messages=seen
            )
        quiet = 0.0 if lines or changed else quiet + POLL_SECONDS
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield Heartbeat()


async def _status(database: Database, conversation_id: uuid.UUID) -> ConversationStatusEvent | None:
    async with database.sessionmaker() as session:
        row = (
            await session.execute(
                select(Conversation.status, Conversation.end_reason).where(
                    Conversation.id == conversation_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        count = await session.scalar(
            select(func.count())
            .select_from(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation_id)
        )
    return ConversationStatusEvent(
        status=ConversationStatus(row.status),
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        messages=int(count or 0),
    )


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
