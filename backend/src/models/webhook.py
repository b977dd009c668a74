"""The webhook outbox: events about conversations, written in the transaction of the change
they report and delivered afterwards by the sender (`services/webhooks/sender.py`).

`conversation_id` has no foreign key on purpose: deleting a conversation (or the account that
owns it) must neither be blocked by its events nor delete them, since a webhook about a deleted
conversation (its `conversation.ended`, when an account deletion ends a live call) is still owed
to the receiver. Delivered and abandoned rows are purged after a retention period instead.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from src.core.clock import utcnow
from src.core.database import Base, UTCDateTime


class WebhookEventType(enum.StrEnum):
    """The events sent about a conversation."""

    # The start committed: the record and its room exist (status waiting_for_user).
    STARTED = "conversation.started"
    # The user joined (status active); sent once, not again on a rejoin.
    ACTIVE = "conversation.active"
    # It ended or failed, whatever the path (status ended or failed, with its end reason).
    ENDED = "conversation.ended"


class WebhookOutbox(Base):
    """One event to deliver: its body, and where its delivery stands."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        CheckConstraint(
            "event_type IN ({})".format(", ".join(f"'{t.value}'" for t in WebhookEventType)),
            name="event_type_valid",
        ),
        # A conversation's events go out in id order: "is an earlier one still pending?"
        Index("ix_webhook_outbox_conversation_id_id", "conversation_id", "id"),
        Index("ix_webhook_outbox_next_attempt_at", "next_attempt_at"),
    )

    # Increasing: the order of the events of one conversation.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The `webhook-id` header (`msg_<hex>`), the same on every attempt so receivers can dedupe.
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # The JSON body: {"type", "timestamp", "data": {...the conversation...}}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When to try next; NULL once delivered or given up, so that the pending rows alone are
    # in its index's range (the outbox keeps delivered rows for a while).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # A sender holds the row until then while it posts it (another process leaves it alone).
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Given up: a final answer (a 4xx other than 408/429) or retried past the retry period.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last failed attempt's cause: an HTTP status or an exception's name, never a body.
    last_error: Mapped[str | None] = mapped_column(String(255))

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header."""
        return f"msg_{self.event_id.hex}"
