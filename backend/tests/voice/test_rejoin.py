"""Rejoining a live conversation with the real bot over real WebRTC: the same bot carries on.

The first connection goes without a goodbye or Leave (closed, or silently gone); the user joins
again with a new token within REJOIN_GRACE_SECONDS; the bot welcomes them back instead of
greeting again, and what was said before is still its context ("what does it mean?" is about
the number it gave on the first connection).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, no_bots_left, row, services, start
from tests.conftest import auth, make_settings, register
from tests.voice.conftest import synthesise
from tests.voice.peer import RATE, Peer

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str) -> Settings:
    # A generous ready timeout: the models load with seven other engineers on two cores.
    return make_settings(
        clean_db, bot_idle_timeout_seconds=2, rejoin_grace_seconds=20, bot_ready_timeout_seconds=60
    )


async def _ask(peer: Peer, models: speech.SpeechModels, question: str) -> str:
    """Say the question; the bot's answer, as the page receives it on the data channel."""
    heard = len(_bot_lines(peer))
    audio = synthesise(models, question)
    peer.mic.say(audio)
    await asyncio.sleep(len(audio) / RATE)

    def answered() -> None:
        assert len(_bot_lines(peer)) > heard, _bot_lines(peer)

    await eventually(answered, within=40)
    return _bot_lines(peer)[-1]


def _bot_lines(peer: Peer) -> list[str]:
    return [m["text"] for m in peer.messages if m.get("role") == "bot"]


async def _first_call(
    client: httpx.AsyncClient, models: speech.SpeechModels
) -> tuple[dict[str, Any], str, Peer, int]:
    user = await register(client, full_name="Ada Lovelace")
    body = (await start(client, user["access_token"])).json()
    peer = Peer()
    await peer.connect(client, body["daily_room_url"], body["daily_token"])
    peer.start_pings()
    await peer.utterance(peer.offer_sent_at)
    answer = await _ask(peer, models, "What is my life path number?")
    number = re.search(r"life path number is (\d+)", answer)
    assert number, answer
    return body, user["access_token"], peer, int(number[1])


async def _rejoin(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, Any], token: str, *, within: float = 0
) -> Peer:
    """Join again and connect; offers refused (the room still holds a silent connection) are
    sent again for up to `within` seconds, as the page does."""
    joined = await client.post(
        f"/api/v1/conversations/{body['conversation_id']}/join", headers=auth(token)
    )
    assert joined.status_code == 200, joined.text
    again = joined.json()
    assert again["daily_room_url"] == body["daily_room_url"]
    assert again["daily_token"] != body["daily_token"]
    assert again["status"] == "active"
    deadline = asyncio.get_running_loop().time() + within
    while True:
        peer = Peer()
        refused: httpx.Response | None = None
        try:
            await peer.connect(client, again["daily_room_url"], again["daily_token"])
        except httpx.HTTPStatusError as exc:
            refused = exc.response
        if refused is None:
            peer.start_pings()
            return peer
        await peer.close()
        assert refused.json()["error"] == "offer_rejected", refused.text
        assert asyncio.get_running_loop().time() < deadline, "the room never took the offer"
        await asyncio.sleep(0.5)


async def _welcomed_back_with_context(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    body: dict[str, Any],
    peer: Peer,
    number: int,
) -> None:
    def welcomed() -> None:
        assert any(line.startswith("Welcome back, Ada") for line in _bot_lines(peer))

    await eventually(welcomed, within=20)
    await peer.utterance(peer.offer_sent_at)  # the welcome back is heard, not only sent
    assert not any(line.startswith("Hello Ada") for line in _bot_lines(peer))
    meaning = await _ask(peer, models, "What does it mean?")
    assert meaning.startswith(f"{number} is "), meaning
    # Not "thank you, goodbye": a loaded recogniser may split it and the bot answer "thanks".
    peer.mic.say(synthesise(models, "Goodbye!"))

    async def ended() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.end_reason) == ("ended", "user_ended")
        assert stored.topics == ["life_path"]

    await eventually(ended, within=40)


async def test_a_closed_connection_rejoins_the_same_bot(
    app: FastAPI, client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    body, token, first, number = await _first_call(client, models)
    await first.close()  # the tab was closed: no goodbye, no Leave
    await asyncio.sleep(3)  # past the idle timeout: the bot knows the user is gone
    assert (await row(app, body["conversation_id"])).status == "active"
    second = await _rejoin(app, client, body, token)
    try:
        await _welcomed_back_with_context(app, client, models, body, second, number)
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
    body, token, first, number = await _first_call(client, models)
    first.stop_pings()  # the tab froze: its connection stays open, silent
    try:
        # The room takes one connection at a time: the new offer gets in once the bot has
        # hung up the silent one (pings missing for BOT_IDLE_TIMEOUT_SECONDS).
        second = await _rejoin(app, client, body, token, within=20)
        try:
            await _welcomed_back_with_context(app, client, models, body, second, number)
        finally:
            await second.close()
    finally:
        await first.close()
    await no_bots_left(app)
