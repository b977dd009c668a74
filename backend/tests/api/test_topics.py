"""Topics: the number kinds a conversation discussed, stored when it ends, whoever ends it."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from src.core.enums import EndReason, MessageRole
from src.services.conversations.transcript import TranscriptWriter
from tests.api.conversation_helpers import (
    deliver,
    eventually,
    no_bots_left,
    row,
    runner,
    start,
    user_token,
)
from tests.conftest import auth
from tests.fakes.bots import GOODBYE, SAID

LINES = [
    (SAID, "assistant", "Hello Ada! I'm your numerologist."),
    (SAID, "user", "What is my life path number?"),
    (SAID, "assistant", "Your life path number is 5.", ["life_path"]),
    (SAID, "user", "And this year? And my life path again?"),
    (SAID, "assistant", "A personal year 3; your life path is 5.", ["personal_year", "life_path"]),
]


async def _talk(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, str]:
    token = await user_token(client)
    conversation_id = (await start(client, token)).json()["conversation_id"]
    for item in LINES:
        assert deliver(app, conversation_id, item)

    async def stored() -> None:
        page = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
        )
        assert page.json()["total"] == len(LINES)

    await eventually(stored)
    return token, conversation_id


async def _read(client: httpx.AsyncClient, token: str, conversation_id: str) -> dict[str, object]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(token))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


class TestTopics:
    async def test_null_while_live(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        token, conversation_id = await _talk(app, client)
        assert (await _read(client, token, conversation_id))["topics"] is None

    async def test_an_end_request_stores_them_in_first_mentioned_order(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token, conversation_id = await _talk(app, client)
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.status_code == 200, ended.text
        assert ended.json()["topics"] == ["life_path", "personal_year"]
        assert (await _read(client, token, conversation_id))["topics"] == [
            "life_path",
            "personal_year",
        ]
        listed = (await client.get("/api/v1/conversations", headers=auth(token))).json()
        assert listed["items"][0]["topics"] == ["life_path", "personal_year"]

    async def test_the_bot_s_own_end_stores_them(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        # Said just before the goodbye: the runner writes the last lines before the end.
        deliver(app, conversation_id, (SAID, "assistant", "Your soul urge is 7.", ["soul_urge"]))
        deliver(app, conversation_id, GOODBYE)
        await no_bots_left(app)
        stored = await row(app, conversation_id)
        assert stored.end_reason == EndReason.USER_ENDED
        assert stored.topics == ["soul_urge"]

    async def test_a_conversation_that_discussed_none_has_an_empty_list(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token = await user_token(client)
        conversation_id = (await start(client, token)).json()["conversation_id"]
        await runner(app).cancel(uuid.UUID(conversation_id), EndReason.MAX_DURATION)
        assert (await _read(client, token, conversation_id))["topics"] == []

    async def test_a_line_written_after_the_end_request_adds_its_kinds(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        token, conversation_id = await _talk(app, client)
        # The end request came while the bot's last line still waited in its writer.
        writer = TranscriptWriter(app.state.database)
        said = uuid.UUID(conversation_id), MessageRole.ASSISTANT
        writer.add(*said, "Your soul urge is 2.", ("soul_urge",))
        ended = await client.post(
            f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
        )
        assert ended.json()["topics"] == ["life_path", "personal_year"]
        assert await writer.flush() == 1
        assert (await _read(client, token, conversation_id))["topics"] == [
            "life_path",
            "personal_year",
            "soul_urge",
        ]
        # A line without kinds, or with kinds already there, changes nothing.
        writer.add(*said, "Goodbye!")
        writer.add(*said, "Five.", ("life_path",))
        assert await writer.flush() == 2
        topics = (await row(app, conversation_id)).topics
        assert topics == ["life_path", "personal_year", "soul_urge"]
