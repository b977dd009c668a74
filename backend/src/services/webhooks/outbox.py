"""Writing webhook events into the outbox, in the transaction of the change they report.

Every path that starts, activates or ends a conversation calls `emit` in its transaction (start,
mark_joined, finish, the end endpoint and the failed-start record; the reapers, restart
reconciliation, worker bots and account deletion end through `finish` and `end_conversation`).
The row itself is built when the transaction commits (a `before_commit` hook), from the
conversation as it is then, so a field set after `emit` in the same transaction (the topics)
is in it; a rollback drops it with the change. The message count is taken at `emit`, before an
account deletion in the same transaction removes the messages.

Only processes with webhooks configured write events (`enable`): a worker needs the same
WEBHOOK_URL and WEBHOOK_SECRET as the API whose sender delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from src.core.clock import utcnow
from src.core.database import Database
from src.models.conversation import Conversation
from src.models.message import ConversationMessage
from src.models.webhook import WebhookEventType, WebhookOutbox

ENABLED = "webhooks_enabled"
_PENDING = "webhook_events"


@dataclass
class _Pending:
    conversation: Conversation
    event_type: WebhookEventType
    message_count: int
    at: datetime


def enable(database: Database) -> None:
    """Make this process's sessions write webhook events."""
    database.sessionmaker.configure(info={ENABLED: True})


async def emit(
    session: AsyncSession, conversation: Conversation, event_type: WebhookEventType
) -> None:
    """Queue an event about the conversation, written when this transaction commits."""
    if not session.info.get(ENABLED):
        return
    count = await session.scalar(
        select(func.count())
        .select_from(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation.id)
    )
    session.info.setdefault(_PENDING, []).append(
        _Pending(conversation, event_type, int(count or 0), utcnow())
    )


def payload(
    conversation: Conversation, event_type: WebhookEventType, message_count: int, at: datetime
) -> dict[str, Any]:
    """The body of an event: Standard Webhooks' envelope around the conversation."""
    return {
        "type": event_type.value,
        "timestamp": _iso(at),
        "data": {
            "id": str(conversation.id),
            "user_id": str(conversation.user_id),
            "status": str(conversation.status),
            "end_reason": None if conversation.end_reason is None else str(conversation.end_reason),
            "started_at": _iso(conversation.started_at),
            "ended_at": _iso(conversation.ended_at),
            "duration_seconds": conversation.duration_seconds,
            "topics": list(conversation.topics or []),
            "message_count": message_count,
        },
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    # Runs before the commit's final flush, so the rows are part of the same transaction.
    for item in session.info.pop(_PENDING, []):
        session.add(
            WebhookOutbox(
                event_type=item.event_type.value,
                conversation_id=item.conversation.id,
                payload=payload(item.conversation, item.event_type, item.message_count, item.at),
                created_at=item.at,
                next_attempt_at=item.at,
            )
        )


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: SessionTransaction) -> None:
    # The change rolled back: so does its event.
    session.info.pop(_PENDING, None)
