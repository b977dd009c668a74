"""Conversation lifecycle columns and idempotency keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("starting", "waiting_for_user", "active", "ended", "failed")
END_REASONS = (
    "user_ended", "user_left", "user_never_joined", "max_duration",
    "bot_error", "room_error", "server_shutdown", "server_restart",
)


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=32), server_default="starting", nullable=False)
        )
        batch.add_column(sa.Column("end_reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("bot_ready_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("user_joined_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("room_deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint("status_valid", f"status IN ({_in(STATUSES)})")
        batch.create_check_constraint(
            "end_reason_valid", f"end_reason IS NULL OR end_reason IN ({_in(END_REASONS)})"
        )
        batch.create_index("ix_conversations_status", ["status"])
        batch.create_index("ix_conversations_user_id_status", ["user_id", "status"])
    # Conversations that already ended keep their end; the rest are reconciled at start-up.
    op.execute("UPDATE conversations SET status = 'ended' WHERE ended_at IS NOT NULL")

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])
    op.create_index(op.f("ix_idempotency_keys_user_id"), "idempotency_keys", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_keys_user_id"), table_name="idempotency_keys")
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_user_id_status")
        batch.drop_index("ix_conversations_status")
        batch.drop_constraint("end_reason_valid", type_="check")
        batch.drop_constraint("status_valid", type_="check")
        batch.drop_column("room_deleted_at")
        batch.drop_column("user_joined_at")
        batch.drop_column("bot_ready_at")
        batch.drop_column("end_reason")
        batch.drop_column("status")
