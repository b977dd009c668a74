"""Silero VAD on an ONNX session loaded once per process, judging silence without the model.

pipecat's `SileroVADAnalyzer.__init__` loads its own session (no argument takes one), so it is
skipped and its attributes set here. The silence shortcut works on `VADAnalyzer`'s private
buffer, window loop and loudness smoothing, for which pipecat has no hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pipecat.audio.utils import exp_smoothing
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

from src.compat import Private, SkippedInit

PRIVATE_NAMES = (
    SkippedInit(SileroOnnxModel, ("session", "sample_rates")),
    SkippedInit(SileroVADAnalyzer, ("_model", "_windows_since_reset", "_low_confidence_windows")),
    Private(VADAnalyzer, "_vad_buffer"),
    Private(VADAnalyzer, "_run_analyzer"),
    Private(VADAnalyzer, "_get_smoothed_volume"),
    Private(VADAnalyzer, "_volume_tracker"),
    Private(VADAnalyzer, "_prev_volume"),
    Private(VADAnalyzer, "_smoothing_factor"),
    Private(VADAnalyzer, "_executor"),
)


class SessionSileroModel(SileroOnnxModel):
    """Silero's model wrapper with its own recurrent state, on a shared ONNX session.

    Args:
        session: The process's Silero ONNX Runtime session.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.reset_states()  # type: ignore[no-untyped-call]
        self.sample_rates = [8000, 16000]


class SessionSileroVADAnalyzer(SileroVADAnalyzer):
    """Silero VAD with its own state on a shared session; silence never reaches the model.

    Args:
        session: The process's Silero ONNX Runtime session.
        params: The VAD's parameters.
        is_silent: Whether a buffer of 16-bit audio is silence (an empty one counts as silent).
    """

    def __init__(self, session: Any, params: VADParams, is_silent: Callable[[bytes], bool]) -> None:
        VADAnalyzer.__init__(self, sample_rate=None, params=params)
        self._model = SessionSileroModel(session)
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self._is_silent = is_silent
        # While a silent frame is analysed: its windows are silent, not to be tested again.
        self._known_silent = False
        # Whether what the analyser keeps of the frames before (less than a window) is.
        self._rest_silent = False
        # Told of each change of state, QUIET -> STARTING included (the first window of what
        # may be speech, before the VAD's start_secs confirm it): what a barge-in holds on.
        self.on_state: Callable[[VADState], None] | None = None
        self._last_state = VADState.QUIET
        # Told of each buffer in which a window's confidence reached the VAD's threshold, whatever
        # the loudness says: speech is that sure 150-220 ms before the smoothed loudness lets the
        # state go STARTING (bench/README, "Where the barge-in's 320 ms go").
        self.on_voice: Callable[[], None] | None = None
        self._peak = 0.0  # the highest confidence of the buffer being analysed

    def voice_confidence(self, buffer: bytes) -> float:
        """Silero's confidence, 0 for silence without running the model."""
        if self._known_silent or self._is_silent(buffer):
            return 0.0
        confidence = float(np.asarray(super().voice_confidence(buffer)).item())
        self._peak = max(self._peak, confidence)
        return confidence

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """The VAD's state after `buffer` (`on_voice` told of a confident window, then
        `on_state` of a change)."""
        self._peak = 0.0
        state = await self._analyze(buffer)  # the model's windows run on a thread; then back here
        if self._peak >= self.params.confidence and self.on_voice is not None:
            self.on_voice()
        if state != self._last_state:
            self._last_state = state
            if self.on_state is not None:
                self.on_state(state)
        return state

    async def _analyze(self, buffer: bytes) -> VADState:
        """The VAD's state after `buffer`; a silent one is analysed here, not on a thread."""
        # pipecat hands every frame to a thread; silence needs no model, so it is analysed
        # right here, which spares the hop (most of an idle bot's VAD cost). The frame is
        # tested once: the windows cut from it (and from the silent rest of the frames
        # before it) are known to be silent, and are not tested again one by one.
        if self._is_silent(buffer) and (self._rest_silent or self._is_silent(self._vad_buffer)):
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
        if self._known_silent or self._is_silent(audio):
            self._volume_tracker.update(audio, self.sample_rate)
            return float(exp_smoothing(0.0, self._prev_volume, self._smoothing_factor))
        return float(super()._get_smoothed_volume(audio))


def analyzer_threads_started(vad: VADAnalyzer) -> bool:
    """Whether the analyzer's own one-thread pool has started its thread (the model ran there)."""
    return bool(vad._executor._threads)
