"""Idempotency-Key: the first successful start for a (user, key) is replayed for 24 hours.

The key row is inserted before any work, in the request's transaction. A twin request racing
with it waits on the unique index (PostgreSQL) or the write lock (SQLite) until the first one
commits, then finds the row and replays its answer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.clock import as_utc, utcnow
from src.models.idempotency import IdempotencyKey

MAX_KEY_LENGTH = 255


async def _find(session: AsyncSession, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
    query = select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def claim(
    session: AsyncSession, user_id: uuid.UUID, key: str, ttl_seconds: int
) -> tuple[IdempotencyKey | None, dict[str, Any] | None]:
    """Claim the key: (the new row to fill in, None), or (None, the answer to replay)."""
    existing = await _find(session, user_id, key)
    if existing is not None:
        if as_utc(existing.created_at) > utcnow() - timedelta(seconds=ttl_seconds):
            return None, existing.response
        await session.delete(existing)
        await session.flush()
    row = IdempotencyKey(user_id=user_id, key=key, status_code=200, response={})
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = await _find(session, user_id, key)
        if twin is None:
            raise
        return None, twin.response
    return row, None
