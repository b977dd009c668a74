"""Fixtures for the voice tests: the real bot, speech for the peer, transcription."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from src.contract.bot import RunBot
from src.voice_pipeline import bot as voice_bot
from src.voice_pipeline import speech
from tests.kit.speech import synthesise, transcribe

# The voice tests import the kit's speech helpers from here too.
__all__ = ["numbers_in", "synthesise", "transcribe"]

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "eleven": 11,
    "twenty-two": 22,
    "thirty-three": 33,
}


@pytest.fixture(scope="session")
def models() -> speech.SpeechModels:
    """The shared speech models, loaded once for the whole run, Whisper included.

    The bot no longer loads Whisper (Moonshine is its recogniser) but `transcribe` here uses it:
    loading it up front keeps its load out of the calls a test is timing.
    """
    loaded = speech.speech_models()
    assert loaded.whisper is not None
    return loaded


@pytest.fixture
def bot(models: speech.SpeechModels) -> RunBot:
    """The real pipecat bot."""
    return voice_bot.run_bot


def numbers_in(text: str) -> set[int]:
    """Every number said in the text, in digits or words."""
    found = {int(n) for n in re.findall(r"\d+", text)}
    lowered = text.lower()
    found |= {v for w, v in NUMBER_WORDS.items() if re.search(rf"\b{w}\b", lowered)}
    return found


@pytest.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fails the test if a pipecat or aiortc task is still pending 10 s after it ends."""
    yield
    leaked: list[asyncio.Task[object]] = []
    for _ in range(50):
        await asyncio.sleep(0.2)
        leaked = [
            t
            for t in asyncio.all_tasks()
            if not t.done()
            and any(part in repr(t.get_coro()) for part in ("pipecat", "aiortc", "SmallWebRTC"))
        ]
        if not leaked:
            return
    assert leaked == []
