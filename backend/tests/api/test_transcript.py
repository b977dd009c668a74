"""The transcript: lines stored as they are said, read back in spoken order, only by their owner."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from src.core.enums import MessageRole
from src.models.message import ConversationMessage
from src.services.conversations.transcript import TranscriptWriter
from tests.api.conversation_helpers import deliver, eventually, start, user_token
from tests.conftest import auth
from tests.fakes.bots import SAID

LINES = [
    ("assistant", "Hello Ada! I'm your numerologist."),
    ("user", "What is my life path number?"),
    ("assistant", "Your life path number is 5."),
]
# The user spoke over the bot after its first sentence: only that is stored, marked so.
CUT = ("assistant", "Five is the number of freedom.")


async def _conversation_with_lines(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, str]:
    token = await user_token(client)
    conversation_id = (await start(client, token)).json()["conversation_id"]
    for role, text in LINES:
        deliver(app, conversation_id, (SAID, role, text))
    deliver(app, conversation_id, (SAID, *CUT, (), True))
    await eventually(lambda: _stored(client, token, conversation_id, len(LINES) + 1))
    return token, conversation_id


async def _stored(client: httpx.AsyncClient, token: str, conversation_id: str, count: int) -> None:
    response = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] == count


class TestMessages:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(f"/api/v1/conversations/{uuid.uuid4()}/messages")
        assert response.status_code == 401

    async def test_lines_come_back_in_spoken_order(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token, conversation_id = await _conversation_with_lines(app, client)
        body = (
            await client.get(
                f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
            )
        ).json()
        assert [(m["role"], m["text"], m["interrupted"]) for m in body["items"]] == [
            *((role, text, False) for role, text in LINES),
            (*CUT, True),
        ]
        times = [m["created_at"] for m in body["items"]]
        assert times == sorted(times)
        page = (
            await client.get(
                f"/api/v1/conversations/{conversation_id}/messages?limit=1&offset=1",
                headers=auth(token),
            )
        ).json()
        assert page["total"] == 4
        assert [(m["role"], m["text"]) for m in page["items"]] == [LINES[1]]

    async def test_another_user_s_is_404(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        _token, conversation_id = await _conversation_with_lines(app, client)
        response = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages",
            headers=auth(await user_token(client)),
        )
        assert response.status_code == 404

    async def test_lines_go_with_their_conversation(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token, conversation_id = await _conversation_with_lines(app, client)
        await client.post(f"/api/v1/conversations/{conversation_id}/end", headers=auth(token))
        deleted = await client.delete(
            f"/api/v1/conversations/{conversation_id}", headers=auth(token)
        )
        assert deleted.status_code == 204
        # The lines are gone from the database, not only hidden.
        async with app.state.database.sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(ConversationMessage))
        assert count == 0

    async def test_a_line_of_a_conversation_deleted_before_it_was_written_is_dropped(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        writer = TranscriptWriter(app.state.database)
        writer.add(uuid.uuid4(), MessageRole.USER, "a conversation that no longer exists")
        assert await writer.flush() == 0
        assert writer.pending == 0
