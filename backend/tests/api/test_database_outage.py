"""The database server going away and coming back: clear 503s, nothing half-made, ends recorded.

The app reaches PostgreSQL through a TCP proxy on loopback that can cut the line.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from src.core.enums import ConversationStatus, EndReason
from src.main import create_app
from src.models.message import ConversationMessage
from tests.api.conversation_helpers import (
    all_rows,
    eventually,
    no_bots_left,
    row,
    runner,
    services,
    start,
    user_token,
)
from tests.conftest import daily_settings, make_settings
from tests.fakes.bots import LEAVE, SAID, ScriptedBot
from tests.fakes.daily import FakeDaily, Fault
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
async def proxy(clean_db: str) -> AsyncIterator[TcpProxy]:
    url = make_url(clean_db)
    async with TcpProxy(url.host or "127.0.0.1", url.port or 5432).serve() as line:
        yield line


def _through(clean_db: str, proxy: TcpProxy) -> str:
    url = make_url(clean_db).set(host="127.0.0.1", port=proxy.listen_port)
    return url.render_as_string(hide_password=False)


@pytest.fixture
async def app(clean_db: str, proxy: TcpProxy, bot: ScriptedBot) -> AsyncIterator[FastAPI]:
    settings = make_settings(_through(clean_db, proxy), room_sweep_interval_seconds=0.2)
    application = create_app(settings, run_bot=bot)
    async with LifespanManager(application):
        yield application


# Where the line drops during a start, after authentication read the user: at the start's first
# statement (the user's row locked to count their live calls), once the room is made (the
# conversation updated with it), and at the commit (everything made, nothing committed).
CUT_AT = {
    "the first statement": "FOR UPDATE",
    "the room recorded": "UPDATE conversations",
    "the commit": "COMMIT",
}


class _CutDuring:
    """Cuts the line once, just before the start's connection sends `statement` (or COMMIT).

    The start is told from the app's background sweeps by its connection: the one that locks
    the user's row, which only a start does, once authenticated.
    """

    def __init__(self, app: FastAPI, proxy: TcpProxy, statement: str, daily: FakeDaily) -> None:
        self.statement, self.proxy, self.daily = statement, proxy, daily
        self.rooms_at_cut: int | None = None
        self.sent: list[str] = []
        self._start: Any = None
        engine = app.state.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._execute)
        event.listen(engine, "commit", self._commit)

    def _execute(self, conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if "FOR UPDATE" in sql and self._start is None:
            self._start = conn
        if conn is self._start:
            self._sending(sql)

    def _commit(self, conn: Any) -> None:
        if conn is self._start:
            self._sending("COMMIT")

    def _sending(self, sql: str) -> None:
        self.sent.append(" ".join(sql.split()))
        if self.statement in sql and self.rooms_at_cut is None:
            self.rooms_at_cut = len(self.daily.rooms)
            self.proxy.cut()


@pytest.mark.parametrize("where", list(CUT_AT))
async def test_a_start_that_loses_the_database_is_503_and_leaves_nothing(
    daily_app: FastAPI,
    proxy: TcpProxy,
    fake_daily: FakeDaily,
    where: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = httpx.ASGITransport(app=daily_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = await user_token(client)
        cut = _CutDuring(daily_app, proxy, CUT_AT[where], fake_daily)
        response = await start(client, token)
        # The start path ran (authentication had read the user) and met the outage where meant.
        assert cut.rooms_at_cut is not None, f"the line was never cut; the start sent {cut.sent}"
        assert "FOR UPDATE" in cut.sent[0], cut.sent
        assert CUT_AT[where] in cut.sent[-1], cut.sent
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "database_unavailable"
        assert response.headers["Retry-After"] == "5"
        assert "5432" not in response.text
        assert "postgres" not in response.text
        assert (await client.get("/health")).status_code == 503
        # The rollback's undo steps ran: the room made for it is deleted, its bot slot freed.
        made = 0 if where == "the first statement" else 1
        assert (cut.rooms_at_cut, fake_daily.count("POST /rooms")) == (made, made)
        assert fake_daily.count("DELETE /rooms") == made
        assert fake_daily.rooms == {}
        # ... and it did not try to note that deletion on the row that was never written.
        undo_errors = [r for r in caplog.records if "undo" in r.getMessage().lower()]
        assert undo_errors == [], [r.getMessage() for r in undo_errors]
        assert runner(daily_app).active_count == 0
        proxy.restore()
        assert await all_rows(daily_app) == []
        # One bot at most (max_bots=1): a slot the failed start kept would refuse this one.
        again = await start(client, token)
        assert again.status_code == 200, again.text


async def test_a_bot_that_ends_during_an_outage_has_its_end_recorded_when_it_is_back(
    app: FastAPI, client: httpx.AsyncClient, proxy: TcpProxy, bot: ScriptedBot
) -> None:
    body = (await start(client, await user_token(client))).json()
    conversation_id = body["conversation_id"]
    proxy.cut()
    (ctx,) = bot.contexts.values()
    bot.inbox(ctx.conversation_id).put_nowait(LEAVE)
    await no_bots_left(app)
    await asyncio.sleep(0.5)  # a few sweeps fail while the line is cut
    proxy.restore()

    async def recorded() -> None:
        ended = await row(app, conversation_id)
        assert ended.status == ConversationStatus.ENDED
        assert ended.end_reason == EndReason.USER_LEFT
        assert ended.room_deleted_at is not None

    await eventually(recorded, within=10)
    assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]


@pytest.fixture
async def daily_app(
    clean_db: str, proxy: TcpProxy, fake_daily: FakeDaily, bot: ScriptedBot
) -> AsyncIterator[FastAPI]:
    settings = daily_settings(_through(clean_db, proxy), fake_daily, max_bots=1)
    application = create_app(settings, run_bot=bot)
    async with LifespanManager(application):
        yield application


async def test_the_database_lost_while_the_room_is_made_deletes_the_room(
    daily_app: FastAPI, proxy: TcpProxy, fake_daily: FakeDaily
) -> None:
    transport = httpx.ASGITransport(app=daily_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = await user_token(client)
        fake_daily.fail("POST /rooms", Fault(status=200, delay=0.5))
        starting = asyncio.create_task(start(client, token))
        await asyncio.sleep(0.25)
        proxy.cut()
        response = await starting
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "database_unavailable"
        assert fake_daily.count("POST /rooms") == 1
        assert fake_daily.rooms == {}
        assert fake_daily.count("DELETE /rooms") == 1
        proxy.restore()
        assert await all_rows(daily_app) == []
        assert runner(daily_app).active_count == 0


async def test_transcript_lines_wait_while_the_database_is_down_and_none_is_lost(
    app: FastAPI, client: httpx.AsyncClient, proxy: TcpProxy, bot: ScriptedBot
) -> None:
    token = await user_token(client)
    conversation_id = (await start(client, token)).json()["conversation_id"]
    inbox = bot.inbox(uuid.UUID(conversation_id))
    inbox.put_nowait((SAID, "assistant", "Hello Ada!"))
    proxy.cut()
    # Said while the database is down: the bot goes on (adding a line never waits) and the
    # lines wait in the writer's memory.
    for n in range(5):
        inbox.put_nowait((SAID, "user", f"question {n}"))
    await asyncio.sleep(1.0)
    proxy.restore()

    async def all_stored() -> None:
        async with app.state.database.sessionmaker() as session:
            texts = list(
                await session.scalars(
                    select(ConversationMessage.text).order_by(ConversationMessage.created_at)
                )
            )
        assert texts == ["Hello Ada!", *(f"question {n}" for n in range(5))]

    await eventually(all_stored, within=15)
