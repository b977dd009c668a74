"""The worker that runs a conversation's bot; the worker_lost and no_bot_capacity end reasons

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_END_REASONS = (
    "user_ended", "user_left", "user_never_joined", "max_duration",
    "bot_error", "room_error", "server_shutdown", "server_restart",
)
END_REASONS = (*OLD_END_REASONS, "worker_lost", "no_bot_capacity")


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("worker_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_conversations_worker_id", ["worker_id"])
        batch.drop_constraint("end_reason_valid", type_="check")
        batch.create_check_constraint(
            "end_reason_valid", f"end_reason IS NULL OR end_reason IN ({_in(END_REASONS)})"
        )


def downgrade() -> None:
    op.execute(
        "UPDATE conversations SET end_reason = 'bot_error' "
        "WHERE end_reason IN ('worker_lost', 'no_bot_capacity')"
    )
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("end_reason_valid", type_="check")
        batch.create_check_constraint(
            "end_reason_valid", f"end_reason IS NULL OR end_reason IN ({_in(OLD_END_REASONS)})"
        )
        batch.drop_index("ix_conversations_worker_id")
        batch.drop_column("worker_id")
