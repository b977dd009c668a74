"""Test databases: a fresh PostgreSQL database per test run, emptied before each test; on
SQLite, a migrated template file per run and a copy of it per test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from src.core.database import Base, create_engine

BACKEND_DIR = Path(__file__).resolve().parents[1]
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def db_kind() -> str:
    """Which database this run uses: `sqlite` (default) or `postgresql` (TEST_DB)."""
    kind = os.environ.get("TEST_DB", "sqlite").lower()
    if kind not in {"sqlite", "postgresql"}:
        raise RuntimeError(f"TEST_DB must be sqlite or postgresql, not {kind!r}")
    return kind


def alembic_config(url: str) -> Config:
    """An Alembic config that migrates the given database."""
    config = Config(str(BACKEND_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(BACKEND_DIR / "alembic"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _asyncpg_dsn(url: str, database: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql", database=database)
        .render_as_string(hide_password=False)
    )


async def _pg_admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url, make_url(url).database or "postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """Create an empty database of this run's kind; drop it afterwards."""
    if db_kind() == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'test-{uuid.uuid4().hex[:8]}.db'}"
        return
    base_url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL)
    name = f"numerologist_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(base_url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"PostgreSQL is unreachable at {make_url(base_url).render_as_string()}: {exc}. "
            "Start it or set TEST_DATABASE_URL."
        ) from exc
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(url: str, revision: str = "head") -> None:
    """Run `alembic upgrade` on the database."""
    command.upgrade(alembic_config(url), revision)


async def truncate_all(url: str) -> None:
    """Delete every row of every table, children first.

    Through the app's own engine (on SQLite: its 30 s busy timeout and write-first locking),
    so a write of the previous test still being checkpointed queues the delete instead of
    failing it after the driver's default 5 s ("database is locked").
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))
    finally:
        await engine.dispose()


def sqlite_template(url: str) -> None:
    """Make a migrated SQLite database whole in its main file (its WAL checkpointed), so that
    `sqlite_copy` can copy that file alone."""
    with contextlib.closing(sqlite3.connect(_sqlite_path(url))) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def sqlite_copy(template_url: str) -> str:
    """A new SQLite database beside the migrated, empty template: a copy of its file. One test's
    own, so nothing a test before it left behind (a connection still holding a write lock, a
    bot still writing) can reach it."""
    template = _sqlite_path(template_url)
    copy = template.with_name(f"{template.stem}-{uuid.uuid4().hex[:8]}.db")
    shutil.copyfile(template, copy)
    return make_url(template_url).set(database=str(copy)).render_as_string(hide_password=False)


def remove_sqlite(url: str) -> None:
    """Delete an SQLite database's files (a connection still open keeps its own until closed)."""
    path = _sqlite_path(url)
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.unlink(missing_ok=True)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database, f"not an SQLite file: {url}"
    return Path(database)
