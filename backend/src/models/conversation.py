"""A voice conversation between a user and the numerologist bot (spec AC1)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from src.core.clock import as_utc, utcnow
from src.core.database import Base, UTCDateTime
from src.core.enums import (
    FAILURE_REASONS,
    LIVE_STATUSES,
    ConversationStatus,
    EndReason,
)

if TYPE_CHECKING:
    from src.models.user import User


# `worker_id` of conversations whose bot runs inside an API process (the embedded mode).
EMBEDDED_OWNER_PREFIX = "embedded:"


class Conversation(Base):
    """One conversation: its room, when it started and ended, and how long it lasted."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_started"),
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s.value}'" for s in ConversationStatus)),
            name="status_valid",
        ),
        CheckConstraint(
            "end_reason IS NULL OR end_reason IN ({})".format(
                ", ".join(f"'{r.value}'" for r in EndReason)
            ),
            name="end_reason_valid",
        ),
        Index("ix_conversations_user_id_status", "user_id", "status"),
        Index("ix_conversations_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The room's name at the room provider (a Daily.co room name, or a local room's name).
    daily_room_id: Mapped[str | None] = mapped_column(String(255), index=True)
    started_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(32), default=ConversationStatus.STARTING, server_default=ConversationStatus.STARTING
    )
    end_reason: Mapped[str | None] = mapped_column(String(32))
    bot_ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once the room is confirmed gone at the provider; NULL with an ended status means
    # the deletion is still owed (the sweeper retries it).
    room_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The process that runs the bot: a worker's id, or `embedded:<host>:<pid>:<n>`.
    worker_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The number kinds it discussed (`NumberKind` values, in first-mentioned order), stored at
    # its end; NULL until then.
    topics: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    user: Mapped[User] = relationship("User", back_populates="conversations", lazy="raise")

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("user_id") is None and kwargs.get("user") is None:
            raise ValueError("a conversation needs a user: pass user_id (a UUID) or user")
        super().__init__(**kwargs)

    @validates("user_id")
    def _validate_user_id(self, _key: str, value: object) -> uuid.UUID:
        if value is None:
            raise ValueError("a conversation needs a user_id")
        if isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValueError(f"user_id must be a UUID, got {value!r}") from None

    def calculate_duration(self) -> int | None:
        """Set and return `duration_seconds` (whole seconds) once `ended_at` is set."""
        if self.ended_at is None or self.started_at is None:
            return None
        delta = as_utc(self.ended_at) - as_utc(self.started_at)
        self.duration_seconds = max(0, int(delta.total_seconds()))
        return self.duration_seconds

    @property
    def is_live(self) -> bool:
        """Whether the conversation has not ended yet."""
        return self.status in LIVE_STATUSES

    def end(
        self, reason: EndReason, *, at: datetime | None = None, topics: Sequence[str] = ()
    ) -> None:
        """Mark the conversation over: status, reason, end time, duration and the number kinds
        it discussed."""
        self.topics = list(topics)
        self.status = (
            ConversationStatus.FAILED if reason in FAILURE_REASONS else ConversationStatus.ENDED
        )
        self.end_reason = reason
        self.ended_at = max(at or utcnow(), as_utc(self.started_at))
        self.calculate_duration()

    def __repr__(self) -> str:
        return f"<Conversation {self.id}>"
