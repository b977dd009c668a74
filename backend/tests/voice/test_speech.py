"""The shared Silero VAD: silence is judged on the event loop without the model, speech is not."""

from __future__ import annotations

import numpy as np
import soxr
from pipecat.audio.vad.vad_analyzer import VADState

from src.voice_pipeline import speech
from tests.voice.conftest import synthesise

FRAME = 320  # 20 ms at 16 kHz


def _frames(samples: np.ndarray) -> list[bytes]:
    return [samples[i : i + FRAME].tobytes() for i in range(0, len(samples) - FRAME + 1, FRAME)]


async def test_silence_never_reaches_the_model_thread(models: speech.SpeechModels) -> None:
    vad = speech.silero_vad(0.2)
    vad.set_sample_rate(16_000)
    # Quiet noise (RMS ~30), as a real microphone gives, for two seconds.
    noise = np.random.default_rng(1).normal(0, 30, 32_000).astype(np.int16)
    states = [await vad.analyze_audio(frame) for frame in _frames(noise)]
    assert set(states) == {VADState.QUIET}
    # The model runs in the analyzer's own thread pool: no thread was ever started.
    assert not vad._executor._threads


async def test_speech_is_still_detected_and_ends(models: speech.SpeechModels) -> None:
    vad = speech.silero_vad(0.2)
    vad.set_sample_rate(16_000)
    audio48 = synthesise(models, "What is my life path number?")
    audio16 = soxr.resample(audio48.astype(np.float32) / 32768, 48_000, 16_000)
    audio16 = (audio16 * 32767).astype(np.int16)
    silence = np.zeros(16_000, np.int16)
    states = [
        await vad.analyze_audio(frame)
        for frame in _frames(np.concatenate([silence, audio16, silence]))
    ]
    assert VADState.SPEAKING in states
    assert vad._executor._threads
    first_speech = states.index(VADState.SPEAKING)
    assert first_speech * FRAME >= len(silence)
    # It returns to quiet in the trailing silence.
    assert states[-1] == VADState.QUIET
