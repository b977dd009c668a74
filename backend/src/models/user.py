"""The user account."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Date, Integer, String, Uuid, func, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from src.core.clock import utcnow
from src.core.database import Base, UTCDateTime

if TYPE_CHECKING:
    from src.models.conversation import Conversation


class User(Base):
    """A person who signs in and talks to the numerologist.

    Emails are stored lower-cased (a check constraint holds that), so the unique index makes
    them unique whatever their case.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=False)
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Every access token carries the version it was issued under; raising it (sign-out, a new
    # password) revokes all the tokens issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Whether the bot may recall the user's earlier conversations (greeting, "last time").
    remember_conversations: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=func.now()
    )

    conversations: Mapped[list[Conversation]] = relationship(
        "Conversation", back_populates="user", lazy="raise", passive_deletes=True
    )

    @property
    def first_name(self) -> str:
        """The first word of the full name, for greetings."""
        parts = self.full_name.split()
        return parts[0] if parts else self.full_name

    def __repr__(self) -> str:
        return f"<User {self.id}>"
