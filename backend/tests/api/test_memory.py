"""Memory across conversations: the facts a new conversation's bot is given of the user's
earlier ones (services/conversations/memory.py), the account setting that turns it off, and
deletion; and the source (voice or text) of each stored line."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from src.contract.bot import Memory
from src.core.enums import MessageRole, MessageSource
from src.services.conversations.memory import RECALLED
from src.services.conversations.transcript import TranscriptWriter
from tests.api.conversation_helpers import deliver, no_bots_left, start, user_token
from tests.conftest import auth
from tests.fakes.bots import GOODBYE, SAID, ScriptedBot


async def _talk(app: FastAPI, client: httpx.AsyncClient, token: str, *topics: str) -> str:
    """A conversation the user joined and ended with a goodbye, having discussed `topics`."""
    conversation_id = str((await start(client, token)).json()["conversation_id"])
    assert deliver(app, conversation_id, "connection")  # the user's media arrives
    for topic in topics:
        deliver(app, conversation_id, (SAID, "assistant", f"Your {topic} is 5.", [topic]))
    deliver(app, conversation_id, GOODBYE)
    await no_bots_left(app)
    return conversation_id


async def _memory_of_next(
    app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot, token: str
) -> Memory | None:
    """The memory the bot of a new conversation is given (the conversation is then ended)."""
    response = await start(client, token)
    assert response.status_code == 200, response.text
    conversation_id = uuid.UUID(response.json()["conversation_id"])
    memory = bot.contexts[conversation_id].job.memory
    ended = await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
    assert ended.status_code == 200, ended.text
    return memory


class TestMemory:
    async def test_a_first_conversation_remembers_nothing(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        token = await user_token(client)
        assert await _memory_of_next(app, client, bot, token) == Memory(())

    async def test_the_last_conversations_newest_first_with_their_topics(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        token = await user_token(client)
        other = await user_token(client, email="grace@example.com")
        await _talk(app, client, other, "maturity")  # another user's: never recalled
        for topic in ("expression", "life_path", "soul_urge", "personality"):
            await _talk(app, client, token, topic, "personal_year")
        memory = await _memory_of_next(app, client, bot, token)
        assert memory is not None
        assert [p.topics for p in memory.past] == [
            ("personality", "personal_year"),
            ("soul_urge", "personal_year"),
            ("life_path", "personal_year"),
        ][:RECALLED]
        assert memory.past[0].ended_at >= memory.past[1].ended_at
        # The one just ended without joining is not recalled: the user never took part.
        again = await _memory_of_next(app, client, bot, token)
        assert again == memory

    async def test_turned_off_on_the_account_none_is_given(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        token = await user_token(client)
        await _talk(app, client, token, "soul_urge")
        off = await client.patch(
            "/api/v1/users/me", json={"remember_conversations": False}, headers=auth(token)
        )
        assert off.status_code == 200, off.text
        assert off.json()["remember_conversations"] is False
        me = await client.get("/api/v1/users/me", headers=auth(token))
        assert me.json()["remember_conversations"] is False
        assert await _memory_of_next(app, client, bot, token) is None
        on = await client.patch(
            "/api/v1/users/me", json={"remember_conversations": True}, headers=auth(token)
        )
        assert on.json()["remember_conversations"] is True
        memory = await _memory_of_next(app, client, bot, token)
        assert memory is not None
        assert memory.past[0].topics == ("soul_urge",)

    async def test_the_setting_update_is_bounded(self, client: httpx.AsyncClient) -> None:
        token = await user_token(client)
        for body in ({"remember_conversations": "maybe"}, {"email": "x@example.com"}):
            response = await client.patch("/api/v1/users/me", json=body, headers=auth(token))
            assert response.status_code == 422, response.text
        unchanged = await client.patch("/api/v1/users/me", json={}, headers=auth(token))
        assert unchanged.json()["remember_conversations"] is True

    async def test_a_deleted_conversation_is_forgotten(
        self, app: FastAPI, client: httpx.AsyncClient, bot: ScriptedBot
    ) -> None:
        token = await user_token(client)
        await _talk(app, client, token, "life_path")
        newest = await _talk(app, client, token, "soul_urge")
        deleted = await client.delete(f"/api/v1/conversations/{newest}", headers=auth(token))
        assert deleted.status_code == 204, deleted.text
        memory = await _memory_of_next(app, client, bot, token)
        assert memory is not None
        assert [p.topics for p in memory.past] == [("life_path",)]


class TestSource:
    async def test_each_line_is_stored_and_shown_with_its_source(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        writer = TranscriptWriter(app.state.database)
        said: Any = (uuid.UUID(conversation_id), MessageRole.USER)
        writer.add(*said, "What is my life path?")
        writer.add(*said, "and my soul urge?", (), MessageSource.TEXT)
        assert await writer.flush() == 2
        page = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
        )
        assert [(m["text"], m["source"]) for m in page.json()["items"]] == [
            ("What is my life path?", "voice"),
            ("and my soul urge?", "text"),
        ]
