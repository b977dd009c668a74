"""Reading conversations, only ever the caller's own."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.enums import LIVE_STATUSES
from src.models.conversation import Conversation
from src.services.conversations.errors import ConversationNotFound


async def get_owned(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, *, lock: bool = False
) -> Conversation:
    """The user's conversation; another user's counts as not found."""
    query = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.user_id == user_id
    )
    if lock:
        query = query.with_for_update()
    conversation = (await session.execute(query)).scalar_one_or_none()
    if conversation is None:
        raise ConversationNotFound()
    return conversation


async def list_owned(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[Conversation], int]:
    """A page of the user's conversations, newest first, and how many there are."""
    total = await session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.user_id == user_id)
    )
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def count_live(session: AsyncSession, user_id: uuid.UUID) -> int:
    """How many of the user's conversations have not ended."""
    count = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.user_id == user_id, Conversation.status.in_(LIVE_STATUSES))
    )
    return int(count or 0)
