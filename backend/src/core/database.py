"""Async SQLAlchemy: the declarative base, the engine and the request-scoped session.

Connection strings (DATABASE_URL):
- SQLite (the embedded default): ``sqlite+aiosqlite:///backend/data/numerologist.db``
- PostgreSQL: ``postgresql+asyncpg://postgres:password@localhost:5432/numerologist``
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from src.core.clock import as_utc

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model, with stable constraint names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime that always comes back aware, in UTC, on every database.

    SQLite keeps no offset, so values are stored as naive UTC there and made aware on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


AfterCommit = Callable[[], Awaitable[object]]


def after_commit(session: AsyncSession, job: AfterCommit) -> None:
    """Queue work that may only start once this request's transaction has committed."""
    session.info.setdefault("after_commit", []).append(job)


def after_rollback(session: AsyncSession, job: AfterCommit) -> None:
    """Queue an undo for something outside the database, run if this request rolls back."""
    session.info.setdefault("after_rollback", []).append(job)


class Database:
    """One engine and its session factory for the life of the app."""

    def __init__(
        self, url: str, *, echo: bool = False, application_name: str | None = None
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, echo=echo, application_name=application_name)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


CONNECT_TIMEOUT_SECONDS = 5


def create_engine(
    url: str, *, echo: bool = False, application_name: str | None = None
) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys, WAL, a busy timeout and write-first locking.

    On PostgreSQL `application_name` names the process in ``pg_stat_activity`` (api, worker).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A database that does not answer fails a request in seconds, not asyncpg's 60 s.
        connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_SECONDS}
        if application_name and parsed.get_backend_name() == "postgresql":
            connect_args["server_settings"] = {"application_name": application_name}
        return create_async_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite has one writer. A deferred transaction that reads and then writes fails at once
        # with "database is locked" when another writer got in between; taking the write lock
        # up front makes concurrent requests queue on the busy timeout instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session: commits once when the request succeeds, rolls back when it raises.

    Jobs queued with `after_commit` run after the commit; their errors reach the error handlers.
    An exception carrying a `failure_record` (a coroutine function taking a session) has that
    record written in a transaction of its own after the rollback: a failed start is kept as a
    failed conversation while everything else the request did is undone.
    Use with ``Depends(get_session, scope="function")`` so this finishes before the response.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        try:
            yield session
        except BaseException as exc:
            try:
                await session.rollback()
            except Exception as rollback_error:
                # The connection is gone (the server rolls back on its own): undo the rest.
                logger.error("rollback failed: %s", type(rollback_error).__name__)
            await _undo(session)
            record: FailureRecord | None = getattr(exc, "failure_record", None)
            if record is not None:
                await _write_failure_record(database, record)
            raise
        try:
            await session.commit()
        except BaseException:
            await _undo(session)
            raise
        session.info.pop("after_rollback", None)
        for job in session.info.pop("after_commit", []):
            await job()


async def _undo(session: AsyncSession) -> None:
    session.info.pop("after_commit", None)
    for job in reversed(session.info.pop("after_rollback", [])):
        try:
            await job()
        except Exception:
            logger.exception("an undo step after a rollback failed")


FailureRecord = Callable[[AsyncSession], Awaitable[None]]


async def _write_failure_record(database: Database, record: FailureRecord) -> None:
    try:
        async with database.sessionmaker() as session, session.begin():
            await record(session)
    except Exception:
        logger.exception("could not record a failure in the database")
