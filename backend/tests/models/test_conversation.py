"""The conversation model: validation, duration, relationships and database constraints."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from src.core.database import create_engine
from src.models import Conversation, User


@pytest.fixture
async def session(clean_db: str):  # type: ignore[no-untyped-def]
    engine = create_engine(clean_db)
    async with async_sessionmaker(engine, expire_on_commit=False)() as db_session:
        yield db_session
    await engine.dispose()


async def _user(session: AsyncSession) -> User:
    user = User(
        email=f"{uuid.uuid4().hex[:8]}@example.com",
        hashed_password="x",
        full_name="Ada Lovelace",
        birth_date=date(1815, 12, 10),
    )
    session.add(user)
    await session.flush()
    return user


class TestValidation:
    def test_user_is_required(self) -> None:
        with pytest.raises(ValueError, match="needs a user"):
            Conversation()
        with pytest.raises(ValueError, match="needs a user"):
            Conversation(user_id=None)

    def test_user_id_must_be_a_uuid(self) -> None:
        with pytest.raises(ValueError, match="must be a UUID"):
            Conversation(user_id="not-a-uuid")
        user_id = uuid.uuid4()
        assert Conversation(user_id=str(user_id)).user_id == user_id


class TestCalculateDuration:
    def test_whole_seconds(self) -> None:
        started = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
        conversation = Conversation(user_id=uuid.uuid4(), started_at=started)
        assert conversation.calculate_duration() is None
        conversation.ended_at = started + timedelta(seconds=95, milliseconds=900)
        assert conversation.calculate_duration() == 95
        assert conversation.duration_seconds == 95

    def test_naive_and_aware_mix_does_not_crash(self) -> None:
        conversation = Conversation(
            user_id=uuid.uuid4(),
            started_at=datetime(2026, 1, 1, 12, 0, 0),  # naive, taken as UTC
            ended_at=datetime(2026, 1, 1, 13, 0, 30, tzinfo=timedelta_zone(hours=1)),
        )
        assert conversation.calculate_duration() == 30


def timedelta_zone(hours: int):  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(hours=hours))


class TestDatabase:
    async def test_relationship_both_ways(self, session: AsyncSession) -> None:
        user = await _user(session)
        session.add_all([Conversation(user_id=user.id), Conversation(user=user)])
        await session.commit()
        loaded = (
            await session.execute(
                select(User).where(User.id == user.id).options(selectinload(User.conversations))
            )
        ).scalar_one()
        assert len(loaded.conversations) == 2
        conversation = (
            await session.execute(
                select(Conversation).options(selectinload(Conversation.user)).limit(1)
            )
        ).scalar_one()
        assert conversation.user.id == user.id

    async def test_timestamps_are_set_and_aware(self, session: AsyncSession) -> None:
        user = await _user(session)
        conversation = Conversation(user_id=user.id)
        session.add(conversation)
        await session.commit()
        created = conversation.updated_at
        await session.refresh(conversation)
        assert conversation.started_at.tzinfo is not None
        conversation.daily_room_id = "room-1"
        await session.commit()
        await session.refresh(conversation)
        assert conversation.updated_at > created

    async def test_check_constraint_refuses_end_before_start(self, session: AsyncSession) -> None:
        user = await _user(session)
        started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        session.add(
            Conversation(
                user_id=user.id, started_at=started, ended_at=started - timedelta(seconds=1)
            )
        )
        with pytest.raises(IntegrityError, match="(?i)ended_after_started|check"):
            await session.flush()

    async def test_foreign_key_refuses_a_missing_user(self, session: AsyncSession) -> None:
        session.add(Conversation(user_id=uuid.uuid4()))
        with pytest.raises(IntegrityError, match="(?i)foreign key"):
            await session.flush()

    async def test_email_is_stored_lowercase_only(self, session: AsyncSession) -> None:
        insert = text(
            "INSERT INTO users (id, email, hashed_password, full_name, birth_date, is_active,"
            " created_at, updated_at) VALUES (:id, 'Upper@Example.com', 'x', 'X', '1990-01-01',"
            " true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
        with pytest.raises(IntegrityError, match="(?i)email_lowercase"):
            await session.execute(insert, {"id": uuid.uuid4().hex})
