"""What the bot may recall of a user's earlier conversations, computed when one starts.

The facts are few and plain (when each of the last `RECALLED` conversations the user took part
in ended, and the number kinds it discussed), handed to the bot in its `BotJob` so the bot never
reads the database. A user who turned `remember_conversations` off gets none; a deleted
conversation is gone from the table, and so from what the bot recalls.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from src.contract.bot import Memory, PastConversation
from src.core.enums import ConversationStatus
from src.models.conversation import Conversation
from src.models.user import User

# The conversations recalled, newest first, and the topics kept of each.
RECALLED = 3
TOPICS_KEPT = 8


async def recall(session: AsyncSession, user: User) -> Memory | None:
    """What the bot may recall of the user's earlier conversations; None if the user turned
    remembering off."""
    if not user.remember_conversations:
        return None
    rows = await session.execute(
        select(Conversation.ended_at, Conversation.topics)
        .where(
            Conversation.user_id == user.id,
            Conversation.status == ConversationStatus.ENDED,
            Conversation.user_joined_at.is_not(None),
            Conversation.ended_at.is_not(None),
        )
        .order_by(Conversation.ended_at.desc(), Conversation.id)
        .limit(RECALLED)
    )
    return Memory(
        tuple(
            PastConversation(ended_at, tuple(str(t) for t in (topics or ())[:TOPICS_KEPT]))
            for ended_at, topics in rows
            if ended_at is not None
        )
    )
