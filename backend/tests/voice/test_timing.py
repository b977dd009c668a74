"""The speech-timing observer: which frames start and stop each clock, and what it records.

Frames are handed to the observer as the pipeline would, with pipeline-clock push times, from
the bot's own STT and TTS services (what it recognises them by). The real call is in
test_bot_e2e.py and tests/workers/test_metrics_scrape.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ClientConnectedFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import FrameProcessed, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from prometheus_client import REGISTRY

from src.voice_pipeline import services
from src.voice_pipeline.timing import SpeechTimings
from tests.conftest import make_settings

pytestmark = pytest.mark.once

DOWN, UP = FrameDirection.DOWNSTREAM, FrameDirection.UPSTREAM
NAMES = ("greeting_first_audio", "voice_to_voice", "stt", "tts")


class Pipeline:
    """Feeds one SpeechTimings observer, as a pipeline with these processors would."""

    def __init__(self, stt: Any, tts: Any) -> None:
        self.stt, self.tts = stt, tts
        self.other = FrameProcessor(name="other")
        self.observer = SpeechTimings(uuid.uuid4())

    async def push(
        self, at: float, frame: Frame, source: Any = None, direction: FrameDirection = DOWN
    ) -> None:
        await self.observer.on_push_frame(
            FramePushed(
                source=source or self.other,
                destination=self.other,
                frame=frame,
                direction=direction,
                timestamp=int(at * 1e9),
            )
        )

    async def at_tts(self, at: float, frame: Frame) -> None:
        await self.observer.on_process_frame(
            FrameProcessed(processor=self.tts, frame=frame, direction=DOWN, timestamp=int(at * 1e9))
        )

    async def vad_stop(self, at: float, stop_secs: float = 0.2) -> None:
        # The VAD's stop is broadcast up and down as two frames made at one moment.
        made = 1_000_000 + at
        for _ in range(2):
            await self.push(at, VADUserStoppedSpeakingFrame(stop_secs=stop_secs, timestamp=made))


def recorded() -> dict[str, tuple[float, float]]:
    values = {}
    for name in NAMES:
        histogram = f"numerologist_{name}_seconds"
        count = REGISTRY.get_sample_value(f"{histogram}_count") or 0.0
        values[name] = (count, REGISTRY.get_sample_value(f"{histogram}_sum") or 0.0)
    return values


def added(before: dict[str, tuple[float, float]]) -> dict[str, tuple[int, float]]:
    after = recorded()
    return {
        name: (round(after[name][0] - before[name][0]), round(after[name][1] - before[name][1], 6))
        for name in NAMES
    }


@pytest.fixture(scope="module")
def pipeline_parts() -> tuple[Any, Any]:
    settings = make_settings("sqlite+aiosqlite://")
    return services.make_stt(settings), services.make_tts(settings)


@pytest.fixture
def pipeline(pipeline_parts: tuple[Any, Any]) -> Pipeline:
    return Pipeline(*pipeline_parts)


def _audio() -> TTSAudioRawFrame:
    return TTSAudioRawFrame(audio=b"\x01\x00" * 160, sample_rate=16_000, num_channels=1)


async def _greeting(p: Pipeline) -> None:
    await p.push(10.0, ClientConnectedFrame())
    await p.at_tts(10.1, TTSSpeakFrame("Hello Ada!"))
    await p.push(10.25, _audio(), source=p.tts)
    await p.push(10.3, BotStartedSpeakingFrame(), direction=UP)
    await p.push(10.3, BotStartedSpeakingFrame())


async def _turn(p: Pipeline, start: float) -> None:
    """The user stops at `start` (the VAD says so 0.2 s later); the bot answers."""
    await p.vad_stop(start + 0.2)
    await p.push(start + 0.5, TranscriptionFrame("What is my life path?", "", ""), source=p.stt)
    await p.push(start + 0.55, LLMFullResponseStartFrame())
    await p.at_tts(start + 0.6, LLMTextFrame("Your life path number is 5."))
    await p.push(start + 0.7, _audio(), source=p.tts)
    await p.push(start + 0.8, BotStartedSpeakingFrame())


async def test_a_greeting_and_a_turn_are_timed(pipeline: Pipeline) -> None:
    before = recorded()
    await _greeting(pipeline)
    await _turn(pipeline, 20.0)
    assert added(before) == {
        "greeting_first_audio": (1, 0.3),
        "voice_to_voice": (1, 0.8),
        "stt": (1, 0.5),
        "tts": (2, 0.25),
    }


async def test_speech_the_user_goes_on_with_is_not_a_turn(pipeline: Pipeline) -> None:
    await _greeting(pipeline)
    before = recorded()
    # A pause mid-sentence: the VAD stops, the user speaks again (the first part's transcript
    # comes meanwhile), then finishes: one turn, from the last end of speech.
    await pipeline.vad_stop(20.2)
    await pipeline.push(20.3, VADUserStartedSpeakingFrame())
    await pipeline.push(20.4, TranscriptionFrame("What is", "", ""), source=pipeline.stt)
    await _turn(pipeline, 22.0)
    timed = added(before)
    assert timed["voice_to_voice"] == (1, 0.8)
    assert timed["stt"] == (2, 0.9)


async def test_bot_speech_that_answers_nothing_is_not_a_turn(pipeline: Pipeline) -> None:
    await _greeting(pipeline)
    before = recorded()
    # The user speaks during the greeting, whose second sentence starts before any reply.
    await pipeline.vad_stop(11.0)
    await pipeline.push(11.5, BotStartedSpeakingFrame())
    assert added(before)["voice_to_voice"] == (0, 0.0)
    # The reply to it is timed from the user's end of speech.
    await pipeline.push(12.0, LLMFullResponseStartFrame())
    await pipeline.push(12.3, BotStartedSpeakingFrame())
    assert added(before)["voice_to_voice"] == (1, 1.5)


async def test_an_interrupted_synthesis_is_not_timed(pipeline: Pipeline) -> None:
    await _greeting(pipeline)
    before = recorded()
    await pipeline.at_tts(30.0, LLMTextFrame("A long answer"))
    await pipeline.at_tts(30.1, InterruptionFrame())
    await pipeline.at_tts(31.0, LLMTextFrame("The next answer"))
    await pipeline.push(31.2, _audio(), source=pipeline.tts)
    # A transcript the user's own text is not text to speak, nor audio from elsewhere.
    await pipeline.at_tts(32.0, TranscriptionFrame("hello", "", ""))
    await pipeline.push(32.5, _audio(), source=pipeline.other)
    assert added(before)["tts"] == (1, 0.2)
