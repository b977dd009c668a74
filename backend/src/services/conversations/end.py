"""Ending a conversation on request: the record now, the bot and the room after the commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from src.core.database import after_commit
from src.core.enums import EndReason
from src.models.conversation import Conversation
from src.services.conversations.errors import ConversationAlreadyEnded
from src.services.conversations.start import ConversationServices


async def end_conversation(
    session: AsyncSession, conversation: Conversation, services: ConversationServices
) -> Conversation:
    """End a live conversation (`user_ended`); its bot stops and its room goes after the commit.

    Raises:
        ConversationAlreadyEnded: it had already ended.
    """
    if not conversation.is_live:
        raise ConversationAlreadyEnded()
    ended = await services.lifecycle.end_in(session, conversation, EndReason.USER_ENDED)
    worker_id = conversation.worker_id

    async def stop_bot_and_room() -> None:
        # The bot's host finds the conversation ended, records nothing more and deletes the
        # room once the bot has left it; with no bot to stop, the room goes from here.
        stopped = await services.bots.stop(ended.conversation_id, worker_id, EndReason.USER_ENDED)
        await services.lifecycle.conclude(ended, delete_room=not stopped)

    after_commit(session, stop_bot_and_room)
    return conversation
