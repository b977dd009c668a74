"""How a real bot's conversation ends: a vanished page, goodbye."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.voice_pipeline import speech
from src.voice_pipeline.dialogue import normalise
from tests.api.conversation_helpers import eventually, no_bots_left, row, services
from tests.conftest import make_settings
from tests.voice.calls import new_call
from tests.voice.conftest import synthesise, transcribe

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str) -> Settings:
    return make_settings(clean_db, bot_idle_timeout_seconds=2)


async def _ended(app: FastAPI, conversation_id: str, reason: str) -> None:
    stored = await row(app, conversation_id)
    assert (stored.status, stored.end_reason) == ("ended", reason)


async def test_a_page_that_stops_pinging_is_treated_as_gone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user, body, peer = await new_call(client)
    try:
        peer.start_pings()
        await peer.utterance(peer.offer_sent_at)
        assert (await row(app, body["conversation_id"])).status == "active"
        peer.stop_pings()  # the tab froze: no close, no more pings
        await eventually(lambda: _ended(app, body["conversation_id"], "user_left"), within=20)
    finally:
        await peer.close()
    await no_bots_left(app)


async def test_goodbye_ends_the_conversation_after_the_farewell(
    app: FastAPI, client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    user, body, peer = await new_call(client, full_name="Grace Hopper")
    try:
        await peer.bot_finished_speaking(after=0)  # goodbye after the greeting, not over it
        spoken = peer.speaking_events()
        goodbye = synthesise(models, "Thank you, goodbye!")
        asked = time.monotonic()
        peer.mic.say(goodbye)
        # The farewell is played to its end before the bot goes: it says it stopped speaking,
        # and the page hears the whole of it, its last words included.
        await peer.bot_finished_speaking(after=spoken)
        heard = await peer.utterance(asked)
        await eventually(lambda: _ended(app, body["conversation_id"], "user_ended"), within=40)
    finally:
        await peer.close()
    farewell = [m["text"] for m in peer.messages if m.get("role") == "bot"]
    assert farewell[-1].startswith("Goodbye Grace")
    words = normalise(await transcribe(models, heard))
    # All that the bot said after the question: the farewell, whole (Whisper tiny hears an
    # abrupt "Goodbye" as "it by" now and then: the name tells its start). The recogniser may
    # end a turn at the comma: "Thank you" is then answered for a moment ("very welcome")
    # before the goodbye, said over it, stops that and gets the farewell.
    assert "grace" in words.split(), words
    assert words.endswith("kind to you"), words
    await no_bots_left(app)
    assert services(app).rooms.room_names() == set()  # type: ignore[attr-defined]
