"""A bot whose teardown hangs (a transport aiortc cannot close) does not hold its slot: the end
request answers, the conversation is ended and the slot is free for the next call."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import pytest
from fastapi import FastAPI

from src.contract.bot import BotContext
from src.core.enums import EndReason
from src.services.bots import runner as runner_module
from tests.api.conversation_helpers import deliver, eventually, row, runner, start, user_token
from tests.conftest import auth
from tests.fakes.bots import ScriptedBot

pytestmark = pytest.mark.once


class StuckOnTeardown(ScriptedBot):
    """Joins, then does not end once cancelled (its cleanup waits on a close that does not
    return, whatever cancels it) until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def __call__(self, ctx: BotContext) -> EndReason:
        try:
            return await super().__call__(ctx)
        except asyncio.CancelledError:
            while not self.release.is_set():
                with contextlib.suppress(asyncio.CancelledError):
                    await self.release.wait()
            raise


@pytest.fixture
def bot() -> StuckOnTeardown:
    return StuckOnTeardown()


async def test_a_bot_stuck_in_teardown_frees_its_slot_on_end(
    app: FastAPI, client: httpx.AsyncClient, bot: StuckOnTeardown, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "STOP_TIMEOUT_SECONDS", 0.2)
    token = await user_token(client)
    body = (await start(client, token)).json()
    conversation_id = body["conversation_id"]
    assert deliver(app, conversation_id, "a user's connection")

    async def joined() -> None:
        assert (await row(app, conversation_id)).status == "active"

    await eventually(joined)
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/end", headers=auth(token)
    )
    assert response.status_code == 200, response.text
    stored = await row(app, conversation_id)
    assert (stored.status, stored.end_reason) == ("ended", "user_ended")
    assert uuid.UUID(conversation_id) not in runner(app)
    assert runner(app).active_count == 0
    bot.release.set()
