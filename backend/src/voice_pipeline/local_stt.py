"""The base of the bot's offline recognisers (Moonshine, Whisper) and the Whisper service.

Both transcribe one spoken segment at a time, as raw 16-bit PCM, on a model shared by every
bot of the process, and say who spoke: the user id of the last audio frame heard (Daily's
frames carry one; local WebRTC's do not, and it is "").
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from src.voice_pipeline import inference, speech


class LocalSTTService(SegmentedSTTService):
    """A segmented STT service on a local model: raw PCM segments, and the speaker's id.

    Args:
        **kwargs: Passed on to `SegmentedSTTService`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.speaker = ""

    @property
    def wants_wav_segments(self) -> bool:
        """Segments arrive as raw 16-bit PCM, which the local models read."""
        return False

    def can_generate_metrics(self) -> bool:
        """Processing time is reported like the other STT services'."""
        return True

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        """Buffer the audio, noting who it came from (as pipecat's services do)."""
        self.speaker = frame.user_id if isinstance(frame, UserAudioRawFrame) else ""
        await super().process_audio_frame(frame, direction)


class SharedWhisperSTTService(LocalSTTService):
    """Whisper tiny.en on the process's shared model, decoding greedily.

    Args:
        model_dir: Where the model is (its name in pipecat's metrics).
    """

    def __init__(self, model_dir: str) -> None:
        super().__init__(settings=STTSettings(model=model_dir, language=Language.EN))
        # Loaded here (the first time in a process, ~1 s), as pipecat's service does: a bot is
        # built off the event loop, its first question is not.
        self._whisper = speech.speech_models().whisper

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one segment of 16-bit mono PCM."""
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        model = self._whisper

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
            yield TranscriptionFrame(text, self.speaker, time_now_iso8601())
