"""Helpers for the conversation API tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from src.core.settings import Settings
from src.main import create_app
from src.models.conversation import Conversation
from src.services.bots.dispatch import EmbeddedBots
from src.services.bots.runner import BotRunner
from src.services.conversations.recovery import Recovery
from src.services.conversations.start import ConversationServices
from tests.conftest import auth, register
from tests.fakes.bots import ScriptedBot


def services(app: FastAPI) -> ConversationServices:
    """The app's conversation services."""
    result: ConversationServices = app.state.services
    return result


def recovery(app: FastAPI) -> Recovery:
    """The app's recovery (owed ends, the sweep, reconciliation)."""
    recovery: Recovery = app.state.host.recovery
    return recovery


def runner(app: FastAPI) -> BotRunner:
    """The embedded app's bot runner."""
    bots = services(app).bots
    assert isinstance(bots, EmbeddedBots)
    return bots.runner


def deliver(app: FastAPI, conversation_id: str | uuid.UUID, item: Any) -> bool:
    """Hand a (scripted) connection to a running bot of a local room; False if none runs."""
    transport = runner(app).transport(uuid.UUID(str(conversation_id)))
    queue = getattr(transport, "connections", None)
    if queue is None:
        return False
    queue.put_nowait(item)
    return True


async def user_token(client: httpx.AsyncClient, **kwargs: Any) -> str:
    """Register a new user; return their access token."""
    return str((await register(client, **kwargs))["access_token"])


async def start(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    """POST /api/v1/conversations/start."""
    return await client.post("/api/v1/conversations/start", headers={**auth(token), **headers})


async def join_again(client: httpx.AsyncClient, body: dict[str, Any], token: str) -> dict[str, Any]:
    """The user joins the call of `body` (a start's answer) again: the same room, a new room
    token; the join's answer."""
    joined = await client.post(
        f"/api/v1/conversations/{body['conversation_id']}/join", headers=auth(token)
    )
    assert joined.status_code == 200, joined.text
    again: dict[str, Any] = joined.json()
    assert again["daily_room_url"] == body["daily_room_url"]
    assert again["daily_token"] != body["daily_token"]
    return again


async def left_by_a_killed_process(settings: Settings, *rows: dict[str, Any]) -> list[Conversation]:
    """Conversations as a killed process leaves them (live, no bot anywhere), one per `rows`
    (their columns), of a user an app registered before it stopped; the app is gone after."""
    first = create_app(settings, run_bot=ScriptedBot())
    async with LifespanManager(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            user = await register(c)
    left = [Conversation(user_id=uuid.UUID(user["user"]["id"]), **columns) for columns in rows]
    async with first.state.database.sessionmaker.begin() as session:
        session.add_all(left)
    await first.state.database.dispose()
    return left


async def row(app: FastAPI, conversation_id: str | uuid.UUID) -> Conversation:
    """The conversation as stored now."""
    async with app.state.database.sessionmaker() as session:
        found = await session.get(Conversation, uuid.UUID(str(conversation_id)))
        assert found is not None
        return found


async def all_rows(app: FastAPI) -> list[Conversation]:
    """Every conversation stored."""
    async with app.state.database.sessionmaker() as session:
        return list((await session.scalars(select(Conversation))).all())


async def eventually(check: Callable[[], Any], within: float = 10.0) -> None:
    """Wait until an (async) check passes; fail with its last error after the timeout."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)


async def no_bots_left(app: FastAPI) -> None:
    """Wait until the runner holds no bot (a bot that ends itself leaves just after its record)."""

    def check() -> None:
        assert runner(app).active_count == 0

    await eventually(check, within=10)
