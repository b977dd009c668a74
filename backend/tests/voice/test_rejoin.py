"""Rejoining a live conversation with the real bot over real WebRTC: the same bot carries on.

The first connection goes without a goodbye or Leave (closed, or silently gone); the user joins
again with a new token within REJOIN_GRACE_SECONDS; the bot welcomes them back instead of
greeting again, and what was said before is still its context ("what does it mean?" is about
the number it gave on the first connection).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, no_bots_left, row, services
from tests.conftest import auth, make_settings
from tests.voice.rejoin_helpers import (
    first_call,
    rejoin,
    waiting_for_rejoin,
    welcomed_back_with_context,
)

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str) -> Settings:
    # A generous ready timeout: the models load with seven other engineers on two cores.
    return make_settings(
        clean_db, bot_idle_timeout_seconds=2, rejoin_grace_seconds=20, bot_ready_timeout_seconds=60
    )


async def test_a_closed_connection_rejoins_the_same_bot(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body, token, first, number = await first_call(client, models)
    await first.close()  # the tab was closed: no goodbye, no Leave
    # The bot knows the user is gone (the connection closed, or its pings stopped for the idle
    # timeout) before the user comes back: this is a rejoin, not a racing second connection.
    await eventually(lambda: waiting_for_rejoin(caplog.text, body["conversation_id"]), within=10)
    assert (await row(app, body["conversation_id"])).status == "active"
    second = await rejoin(app, client, body, token)
    try:
        await welcomed_back_with_context(app, client, models, body, second, number)
    finally:
        await second.close()
    await no_bots_left(app)
    lines = await client.get(
        f"/api/v1/conversations/{body['conversation_id']}/messages", headers=auth(token)
    )
    said = [m["text"] for m in lines.json()["items"] if m["role"] == "assistant"]
    assert sum(line.startswith("Hello Ada") for line in said) == 1
    assert any(line.startswith("Welcome back, Ada") for line in said)
    assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]


async def test_a_vanished_page_rejoins_once_the_bot_hangs_it_up(
    app: FastAPI, client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    body, token, first, number = await first_call(client, models)
    first.stop_pings()  # the tab froze: its connection stays open, silent
    try:
        # The room takes one connection at a time: the new offer gets in once the bot has
        # hung up the silent one (pings missing for BOT_IDLE_TIMEOUT_SECONDS).
        second = await rejoin(app, client, body, token, within=20)
        try:
            await welcomed_back_with_context(app, client, models, body, second, number)
        finally:
            await second.close()
    finally:
        await first.close()
    await no_bots_left(app)
