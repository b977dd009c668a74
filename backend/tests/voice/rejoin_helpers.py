"""Helpers for the rejoin tests (embedded and through a worker): ask, rejoin, check the bot
carried on."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from fastapi import FastAPI

from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, join_again, row
from tests.kit.speech import transcribe
from tests.voice.calls import new_call
from tests.voice.conftest import synthesise
from tests.voice.peer import RATE, Peer


async def ask(peer: Peer, models: speech.SpeechModels, question: str) -> str:
    """Say the question; the bot's answer, as the page receives it on the data channel, once
    the bot has finished saying it (the next question does not talk over it)."""
    heard = len(bot_lines(peer))
    spoken = peer.speaking_events()
    audio = synthesise(models, question)
    peer.mic.say(audio)
    await asyncio.sleep(len(audio) / RATE)

    def answered() -> None:
        assert len(bot_lines(peer)) > heard, peer.messages

    await eventually(answered, within=40)
    await peer.bot_finished_speaking(after=spoken)
    return bot_lines(peer)[-1]


def bot_lines(peer: Peer) -> list[str]:
    return [m["text"] for m in peer.messages if m.get("role") == "bot"]


async def first_call(
    client: httpx.AsyncClient, models: speech.SpeechModels
) -> tuple[dict[str, Any], str, Peer, int]:
    user, body, peer = await new_call(client, full_name="Ada Lovelace")
    peer.start_pings()
    await peer.bot_finished_speaking(after=0)  # the whole greeting, however it was paced
    answer = await ask(peer, models, "What is my life path number?")
    number = re.search(r"life path number is (\d+)", answer)
    assert number, answer
    return body, user["access_token"], peer, int(number[1])


async def rejoin(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, Any], token: str, *, within: float = 0
) -> Peer:
    """Join again and connect; offers refused (the room still holds a silent connection) are
    sent again for up to `within` seconds, as the page does."""
    again = await join_again(client, body, token)
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


def waiting_for_rejoin(log: str, conversation_id: str) -> None:
    """The bot has logged that the user is gone and it waits for a rejoin (presence.py)."""
    lines = [line for line in log.splitlines() if f"conversation {conversation_id}: " in line]
    assert any(line.endswith("for a rejoin") for line in lines), lines


async def welcomed_back_with_context(
    app: FastAPI,
    client: httpx.AsyncClient,
    models: speech.SpeechModels,
    body: dict[str, Any],
    peer: Peer,
    number: int,
) -> None:
    def welcomed() -> None:
        assert any(line.startswith("Welcome back, Ada") for line in bot_lines(peer))

    await eventually(welcomed, within=20)
    await peer.bot_finished_speaking(after=0)
    # The welcome back is heard, not only sent, from its first word (said as soon as the new
    # connection is up: none of it lost).
    heard = await transcribe(models, await peer.utterance(peer.offer_sent_at))
    assert "welcome" in heard.lower(), heard
    assert not any(line.startswith("Hello Ada") for line in bot_lines(peer))
    meaning = await ask(peer, models, "What does it mean?")
    assert meaning.startswith(f"{number} is "), meaning
    # Not "thank you, goodbye": a loaded recogniser may split it and the bot answer "thanks".
    peer.mic.say(synthesise(models, "Goodbye!"))

    async def ended() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.end_reason) == ("ended", "user_ended")
        assert stored.topics == ["life_path"]

    await eventually(ended, within=40)
