"""The migrations: a full round trip, and no drift between them and the models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.engine import Connection

from src.core.database import Base, create_engine
from tests.db import alembic_config, fresh_database, migrate


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path) as url:
        yield url


async def _inspect(url: str, fn):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    # Alembic's env.py runs its own event loop: drive it from a worker thread.
    config = alembic_config(empty_db)
    await asyncio.to_thread(migrate, empty_db)
    assert await _inspect(empty_db, _tables) == set(Base.metadata.tables)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _inspect(empty_db, _tables) == set()
    await asyncio.to_thread(migrate, empty_db)
    assert await _inspect(empty_db, _tables) == set(Base.metadata.tables)


async def test_models_and_migrations_agree(database_url: str) -> None:
    assert await _inspect(database_url, _diff) == []


async def test_conversations_table_has_the_spec_indexes_and_constraints(database_url: str) -> None:
    def describe(connection: Connection) -> dict[str, object]:
        inspector = inspect(connection)
        return {
            "indexes": {i["name"] for i in inspector.get_indexes("conversations")},
            "fks": [
                (fk["referred_table"], fk["constrained_columns"])
                for fk in inspector.get_foreign_keys("conversations")
            ],
            "checks": {c["name"] for c in inspector.get_check_constraints("conversations")},
        }

    described = await _inspect(database_url, describe)
    assert {"ix_conversations_user_id", "ix_conversations_daily_room_id"} <= described["indexes"]
    assert ("users", ["user_id"]) in described["fks"]
    assert "ck_conversations_ended_after_started" in described["checks"]


async def test_check_constraints_match_the_models(database_url: str) -> None:
    # Alembic's comparison does not look at check constraints: compare their names here.
    def reflected(connection: Connection) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {
            table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in Base.metadata.tables
        }

    expected = {
        name: {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint) and c.name}
        for name, table in Base.metadata.tables.items()
    }
    assert await _inspect(database_url, reflected) == expected
