"""Memory across conversations and typed lines: users.remember_conversations,
conversation_messages.source

Revision ID: talk
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "talk"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Everyone remembered until they turn it off (the bot greets a returning user by it).
    op.add_column(
        "users",
        sa.Column(
            "remember_conversations", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
    )
    # How a line came: spoken ('voice') or typed on the page / answered in text only ('text').
    op.add_column(
        "conversation_messages",
        sa.Column("source", sa.String(8), server_default="voice", nullable=False),
    )
    with op.batch_alter_table("conversation_messages") as batch:
        batch.create_check_constraint(
            op.f("ck_conversation_messages_source_valid"), "source IN ('voice', 'text')"
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_constraint(op.f("ck_conversation_messages_source_valid"), type_="check")
        batch.drop_column("source")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("remember_conversations")
