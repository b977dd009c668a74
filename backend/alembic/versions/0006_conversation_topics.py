"""The numbers a conversation discussed: conversations.topics, and each line's kinds
(conversation_messages.kinds), which the topics are gathered from at the end

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("topics", sa.JSON(), nullable=True))
    with op.batch_alter_table("conversation_messages") as batch:
        batch.add_column(sa.Column("kinds", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_messages") as batch:
        batch.drop_column("kinds")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("topics")
