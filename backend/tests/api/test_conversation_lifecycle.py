"""A conversation's life after the start: joins, timeouts, leaving, shutdown and restart."""

from __future__ import annotations

import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from src.core.enums import ConversationStatus
from src.core.settings import Settings
from src.main import create_app
from src.models.conversation import Conversation
from tests.api.conversation_helpers import (
    all_rows,
    deliver,
    eventually,
    no_bots_left,
    row,
    services,
    start,
    user_token,
)
from tests.conftest import make_settings, register
from tests.fakes.bots import GOODBYE, JOIN, LEAVE, ScriptedBot


async def _ended(app: FastAPI, conversation_id: str, reason: str) -> None:
    stored = await row(app, conversation_id)
    assert (stored.status, stored.end_reason) == ("ended", reason)
    assert stored.ended_at is not None
    assert stored.duration_seconds is not None
    assert stored.room_deleted_at is not None


class TestUserLeavesOrSaysGoodbye:
    @pytest.mark.parametrize(("command", "reason"), [(LEAVE, "user_left"), (GOODBYE, "user_ended")])
    async def test_bot_end_is_recorded_once_with_the_room_deleted(
        self, app: FastAPI, client: httpx.AsyncClient, command: str, reason: str
    ) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        deliver(app, conversation_id, JOIN)
        await eventually(lambda: _status(app, conversation_id, "active"))
        deliver(app, conversation_id, command)
        await eventually(lambda: _ended(app, conversation_id, reason))
        await no_bots_left(app)
        assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]


async def _status(app: FastAPI, conversation_id: str, status: str) -> None:
    assert (await row(app, conversation_id)).status == status


class TestTimeouts:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        return make_settings(clean_db, join_timeout_seconds=0.3, max_duration_seconds=0.8)

    async def test_user_never_joins(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        await eventually(lambda: _ended(app, conversation_id, "user_never_joined"), within=5)
        assert bot.cancelled == {uuid.UUID(conversation_id)}
        await no_bots_left(app)

    async def test_max_duration(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        conversation_id = (await start(client, await user_token(client))).json()["conversation_id"]
        deliver(app, uuid.UUID(conversation_id), JOIN)
        await eventually(lambda: _ended(app, conversation_id, "max_duration"), within=5)
        stored = await row(app, conversation_id)
        assert stored.user_joined_at is not None


class TestShutdownAndRestart:
    async def test_shutdown_ends_live_conversations(self, settings: Settings) -> None:
        bot = ScriptedBot()
        app = create_app(settings, run_bot=bot)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                ids = [
                    (await start(c, await user_token(c))).json()["conversation_id"]
                    for _ in range(2)
                ]
            rooms = services(app).rooms
        for conversation_id in ids:
            await _ended(app, conversation_id, "server_shutdown")
        assert bot.cancelled == {uuid.UUID(i) for i in ids}
        assert rooms.room_names() == set()  # type: ignore[attr-defined]

    async def test_restart_ends_what_a_dead_process_left_live(self, settings: Settings) -> None:
        first = create_app(settings, run_bot=ScriptedBot())
        async with LifespanManager(first):
            transport = httpx.ASGITransport(app=first)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                user = await register(c)
        # Rows as a killed process leaves them: live, with rooms, and no bot anywhere.
        async with first.state.database.sessionmaker.begin() as session:
            for status in ("starting", "waiting_for_user", "active"):
                session.add(
                    Conversation(
                        user_id=uuid.UUID(user["user"]["id"]),
                        status=status,
                        daily_room_id=f"room-{status}",
                    )
                )
        await first.state.database.dispose()
        second = create_app(settings, run_bot=ScriptedBot())
        async with LifespanManager(second):
            rows = await all_rows(second)
        assert {(r.status, r.end_reason) for r in rows} == {("ended", "server_restart")}
        assert all(r.room_deleted_at is not None and r.duration_seconds is not None for r in rows)
        assert not any(
            r.status in {s.value for s in ConversationStatus if s != "ended"} for r in rows
        )
