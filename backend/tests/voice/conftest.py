"""Fixtures for the voice tests: the real bot, speech for the peer, transcription."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import numpy as np
import pytest
import soxr
from piper.config import SynthesisConfig

from src.contract.bot import RunBot
from src.voice_pipeline import bot as voice_bot
from src.voice_pipeline import speech

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


# The user's words are the same take in every run: Piper without its generator and phoneme
# width noise. With the noise each run spoke a new random take, and some takes of "What is my
# life path number?" hold a pause the bot's VAD (stop_secs 0.2) ends the speech at ("What is my
# life, Pa?" + an unreadable "th number?"): the test's outcome was the luck of the take.
USER_VOICE = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)


def synthesise(models: speech.SpeechModels, text: str) -> np.ndarray:
    """Piper speech at 48 kHz int16 (one fixed take per text), with a second of silence after."""
    chunks = list(models.piper_voice.synthesize(text, syn_config=USER_VOICE))
    pcm = np.frombuffer(b"".join(c.audio_int16_bytes for c in chunks), np.int16)
    rate = models.piper_voice.config.sample_rate
    speech48 = soxr.resample(pcm.astype(np.float32) / 32768, rate, 48_000)
    return np.concatenate([(speech48 * 32767).astype(np.int16), np.zeros(48_000, np.int16)])


async def transcribe(models: speech.SpeechModels, audio48: np.ndarray) -> str:
    """What Whisper hears in 48 kHz int16 audio."""
    audio16 = soxr.resample(audio48.astype(np.float32) / 32768, 48_000, 16_000)
    # Whisper tiny tends to drop the first word of audio that starts abruptly: pad it.
    pad = np.zeros(8_000, np.float32)
    audio16 = np.concatenate([pad, audio16, pad])

    def run() -> str:
        segments, _ = models.whisper.transcribe(audio16, language="en", beam_size=1)
        return " ".join(s.text.strip() for s in segments)

    return await asyncio.to_thread(run)


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
