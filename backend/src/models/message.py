"""One line of a conversation's transcript: who said it, what, and when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from src.core.clock import utcnow
from src.core.database import Base, UTCDateTime
from src.core.enums import MessageRole, MessageSource


class ConversationMessage(Base):
    """A line spoken in a conversation (the bot's, the greeting included, or the user's)."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        CheckConstraint(
            "role IN ({})".format(", ".join(f"'{r.value}'" for r in MessageRole)),
            name="role_valid",
        ),
        CheckConstraint(
            "source IN ({})".format(", ".join(f"'{s.value}'" for s in MessageSource)),
            name="source_valid",
        ),
        Index(
            "ix_conversation_messages_conversation_id_created_at", "conversation_id", "created_at"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # When it was said (not when it was written: writes are batched in the background).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The number kinds a bot line told the user about (`NumberKind` values); NULL for none.
    # The conversation's topics are gathered from them when it ends, whichever process ends it.
    kinds: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    # How it came: spoken (`voice`) or typed on the page / answered in text only (`text`).
    source: Mapped[str] = mapped_column(
        String(8), default=MessageSource.VOICE, server_default=MessageSource.VOICE.value
    )
    # A bot line the user spoke over: `text` holds only what was said before the bot stopped.
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
