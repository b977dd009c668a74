"""Ending a conversation on request: the record now, the bot and the room after the commit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from src.core import metrics
from src.core.database import after_commit
from src.core.enums import EndReason
from src.models.conversation import Conversation
from src.models.webhook import WebhookEventType
from src.services.conversations import transcript
from src.services.conversations.errors import ConversationAlreadyEnded
from src.services.conversations.start import ConversationServices
from src.services.webhooks import outbox


async def end_conversation(
    session: AsyncSession, conversation: Conversation, services: ConversationServices
) -> Conversation:
    """End a live conversation (`user_ended`); its bot stops and its room goes after the commit.

    Raises:
        ConversationAlreadyEnded: it had already ended.
    """
    if not conversation.is_live:
        raise ConversationAlreadyEnded()
    topics = await transcript.topics(session, conversation.id)
    conversation.end(EndReason.USER_ENDED, topics=topics)
    await session.flush()
    await outbox.emit(session, conversation, WebhookEventType.ENDED)
    conversation_id, room_name = conversation.id, conversation.daily_room_id
    worker_id = conversation.worker_id

    async def stop_bot_and_room() -> None:
        metrics.conversation_ended(EndReason.USER_ENDED.value)
        # The bot's own end finds the conversation ended and records nothing more.
        await services.bots.stop(conversation_id, worker_id, EndReason.USER_ENDED)
        if room_name:
            await services.lifecycle.delete_room(conversation_id, room_name)

    after_commit(session, stop_bot_and_room)
    return conversation
