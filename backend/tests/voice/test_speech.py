"""The shared Silero VAD: silence is judged on the event loop without the model, speech is not;
a silent frame is tested once, not again window by window."""

from __future__ import annotations

import numpy as np
import pytest
import soxr
from pipecat.audio.vad.vad_analyzer import VADState

from src.compat.pipecat_vad import analyzer_threads_started
from src.voice_pipeline import speech
from tests.voice.conftest import synthesise

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

FRAME = 320  # 20 ms at 16 kHz
# The pipeline's frames: 40 ms (media.INPUT_PACKETS_PER_FRAME), and 20 ms as pipecat's own.
FRAMES = pytest.mark.parametrize("frame", [640, 320])


def _frames(samples: np.ndarray, frame: int = FRAME) -> list[bytes]:
    return [samples[i : i + frame].tobytes() for i in range(0, len(samples) - frame + 1, frame)]


@FRAMES
async def test_silence_never_reaches_the_model_thread(
    models: speech.SpeechModels, monkeypatch: pytest.MonkeyPatch, frame: int
) -> None:
    tested: list[int] = []
    is_silent = speech._is_silent

    def counted(buffer: bytes) -> bool:
        tested.append(len(buffer))
        return is_silent(buffer)

    # Before the analyzer is built: it is given the test of silence when it is.
    monkeypatch.setattr(speech, "_is_silent", counted)
    vad = speech.silero_vad(0.2)
    vad.set_sample_rate(16_000)
    # Quiet noise (RMS ~30), as a real microphone gives, for two seconds.
    noise = np.random.default_rng(1).normal(0, 30, 32_000).astype(np.int16)
    frames = _frames(noise, frame)
    states = [await vad.analyze_audio(f) for f in frames]
    assert set(states) == {VADState.QUIET}
    # The model runs in the analyzer's own thread pool: no thread was ever started.
    assert not analyzer_threads_started(vad)
    # Each frame tested once (and the analyser's rest once, at the start), not each window
    # again (512 samples: the model's and the loudness measure's).
    assert len(tested) <= len(frames) + 1, tested[:10]


@FRAMES
async def test_speech_is_still_detected_and_ends(models: speech.SpeechModels, frame: int) -> None:
    vad = speech.silero_vad(0.2)
    vad.set_sample_rate(16_000)
    audio48 = synthesise(models, "What is my life path number?")
    audio16 = soxr.resample(audio48.astype(np.float32) / 32768, 48_000, 16_000)
    audio16 = (audio16 * 32767).astype(np.int16)
    silence = np.zeros(16_000, np.int16)
    states = [
        await vad.analyze_audio(f)
        for f in _frames(np.concatenate([silence, audio16, silence]), frame)
    ]
    assert VADState.SPEAKING in states
    assert analyzer_threads_started(vad)
    first_speech = states.index(VADState.SPEAKING)
    assert first_speech * frame >= len(silence)
    # It returns to quiet in the trailing silence.
    assert states[-1] == VADState.QUIET


async def test_silero_s_sure_window_is_told_before_the_vad_goes_starting(
    models: speech.SpeechModels,
) -> None:
    """`on_voice` (what a barge-in holds on first) comes frames before STARTING, which waits for
    the smoothed loudness too; and never in silence or quiet noise."""
    vad = speech.silero_vad(0.2)
    vad.set_sample_rate(16_000)
    events: list[tuple[int, str]] = []
    at = [0]  # the frame being analysed
    vad.on_voice = lambda: events.append((at[0], "voice"))
    vad.on_state = lambda state: events.append((at[0], state.name))
    audio48 = synthesise(models, "What does it mean?")
    audio16 = (soxr.resample(audio48.astype(np.float32) / 32768, 48_000, 16_000) * 32767).astype(
        np.int16
    )
    noise = np.random.default_rng(1).normal(0, 30, 16_000).astype(np.int16)
    for at[0], f in enumerate(_frames(np.concatenate([noise, audio16]))):
        await vad.analyze_audio(f)
    first_voice = next(i for i, what in events if what == "voice")
    starting = next(i for i, what in events if what == "STARTING")
    assert first_voice * FRAME >= len(noise)  # nothing in the noise
    assert first_voice < starting, events[:5]
