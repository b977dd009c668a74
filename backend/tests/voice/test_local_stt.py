"""The offline recognisers (Whisper, Moonshine) transcribe a segment and say who spoke it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import soxr
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import run_test

from src.core.settings import Settings
from src.voice_pipeline import moonshine, speech
from tests.voice.conftest import synthesise

pytestmark = pytest.mark.once
RATE = 16_000
QUESTION = "What is my life path number?"


def _whisper() -> Any:
    return speech.whisper_stt()


def _moonshine() -> Any:
    cache_dir = Settings(_env_file=None).model_cache_dir  # type: ignore[call-arg]
    return moonshine.MoonshineSTTService(cache_dir, trailing_silence_secs=0)


SERVICES = pytest.mark.parametrize("make", [_whisper, _moonshine], ids=["whisper", "moonshine"])


def _pcm(models: speech.SpeechModels) -> bytes:
    audio48 = synthesise(models, QUESTION).astype(np.float32) / 32768
    pad = np.zeros(RATE // 2, np.float32)  # as pipecat's VAD segments speech: room around it
    audio16 = np.concatenate([pad, soxr.resample(audio48, 48_000, RATE), pad])
    return (audio16 * 32767).astype(np.int16).tobytes()


async def _transcripts(service: Any, frames: list[InputAudioRawFrame]) -> list[TranscriptionFrame]:
    down, _ = await run_test(
        service,
        frames_to_send=[VADUserStartedSpeakingFrame(), *frames, VADUserStoppedSpeakingFrame()],
    )
    return [f for f in down if isinstance(f, TranscriptionFrame)]


def _words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


@SERVICES
async def test_a_participants_segment_is_theirs(
    models: speech.SpeechModels, make: Callable[[], Any]
) -> None:
    # Daily's frames carry the participant's id; the transcription says who spoke.
    pcm = _pcm(models)
    frames = [
        UserAudioRawFrame(
            audio=pcm[i : i + 640], sample_rate=RATE, num_channels=1, user_id="participant-7"
        )
        for i in range(0, len(pcm), 640)
    ]
    transcripts = await _transcripts(make(), frames)
    assert [_words(f.text) for f in transcripts] == [_words(QUESTION)]
    assert [f.user_id for f in transcripts] == ["participant-7"]


@SERVICES
async def test_a_segment_from_a_local_peer_has_no_speaker(
    models: speech.SpeechModels, make: Callable[[], Any]
) -> None:
    pcm = _pcm(models)
    frames = [
        InputAudioRawFrame(audio=pcm[i : i + 640], sample_rate=RATE, num_channels=1)
        for i in range(0, len(pcm), 640)
    ]
    transcripts = await _transcripts(make(), frames)
    assert [f.user_id for f in transcripts] == [""]
    assert transcripts[0].text
