"""The user's words and what is heard in the bot's: Piper speaks, Whisper listens."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import numpy as np
import soxr
from piper.config import SynthesisConfig

from src.voice_pipeline import speech
from tests.voice.peer import RATE, Peer

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


# What the tests' and the bench's users ask most.
LIFE_PATH_QUESTION = "What is my life path number?"


def loud_span(samples: np.ndarray, threshold: int = 500) -> tuple[float, float]:
    """Seconds from the start of 48 kHz `samples` to its first and to its last loud sample."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if not loud.size:
        return 0.0, 0.0
    return float(loud[0]) / RATE, float(loud[-1]) / RATE


async def say(peer: Peer, audio: np.ndarray) -> float:
    """The user says `audio` (`synthesise`'s: its last second silence); returns once the audio
    before that second has played, the moment its last loud sample played (time.monotonic).

    Piper ends its words with 0.1 to 0.25 s of fading near-silence: a delay timed from the end
    of the audio instead would leave that much of the bot's wait out.
    """
    began = time.monotonic()
    peer.mic.say(audio)
    await asyncio.sleep(max(0.0, began + (len(audio) - RATE) / RATE - time.monotonic()))
    return began + loud_span(audio)[1]


async def answer_to(
    peer: Peer, models: speech.SpeechModels, text: str = LIFE_PATH_QUESTION
) -> np.ndarray:
    """The user asks `text` aloud; the bot's answer (its next utterance after the words)."""
    return await peer.utterance(await say(peer, synthesise(models, text)))


async def greeting_and_answer(
    peer: Peer, client: httpx.AsyncClient, body: dict[str, Any], models: speech.SpeechModels
) -> tuple[np.ndarray, np.ndarray]:
    """The user joins the call of `body` (a start's answer) with `peer`, hears the greeting and
    asks the life path question: the greeting and the answer (the peer closed after)."""
    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
        greeting = await peer.utterance(peer.offer_sent_at)
        return greeting, await answer_to(peer, models)
    finally:
        await peer.close()
