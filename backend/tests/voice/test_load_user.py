"""A load user of the bench (`tests/kit/load.py`) in a real call: the bot hears its pre-encoded
question and answers it, and the user times both without decoding a packet."""

from __future__ import annotations

import httpx
import pytest

from src.voice_pipeline import speech
from src.voice_pipeline.dialogue import normalise
from tests.api.conversation_helpers import eventually, start
from tests.conftest import auth, register
from tests.kit.load import LoadUser, Phrases, Ticker
from tests.voice.conftest import synthesise

pytestmark = pytest.mark.once

QUESTION = "What is my life path number?"


async def test_a_load_user_is_greeted_heard_and_answered(
    client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    user = await register(client, full_name="Ada Lovelace")
    body = (await start(client, user["access_token"])).json()
    ticker = Ticker()
    ticker.start()
    load_user = LoadUser(ticker, Phrases([synthesise(models, QUESTION)]))
    try:
        await load_user.connect(client, body["daily_room_url"], body["daily_token"])
        greeted = await load_user.speech_after(load_user.offer_sent_at, within=20)
        assert greeted is not None, (
            "no greeting arrived",
            load_user.pc.connectionState,
            load_user.mic.sent,
            load_user.heard.packets,
        )
        await load_user.quiet(0.5)
        answered = await load_user.ask(0)
        assert answered is not None, "no answer arrived"
        assert 0 < answered < 10
        await load_user.quiet(0.5)
    finally:
        await load_user.close()
        await ticker.close()
    heard: list[str] = []

    async def stored() -> None:
        response = await client.get(
            f"/api/v1/conversations/{body['conversation_id']}/messages",
            headers=auth(user["access_token"]),
        )
        lines = response.json()["items"]
        heard[:] = [m["text"] for m in lines if m["role"] == "user"]
        assert heard, lines
        assert any("life path number is" in m["text"] for m in lines if m["role"] == "assistant")

    await eventually(stored, within=10)
    assert normalise(heard[0]).split()[-2:] == ["path", "number"], heard
