"""Speech timings of one bot, for /metrics: greeting, voice to voice, recognition, synthesis.

A pipecat observer watches the frames (it adds no processor to the pipeline) and times them on
the pipeline's clock, the push time of each frame: observers run behind the pipeline on their
own queue, so the time they run at would add that queue's delay.

- greeting first audio: the user's connection (`ClientConnectedFrame`) to the bot's first
  `BotStartedSpeakingFrame` (the output transport writing its first audio);
- voice to voice, per turn: the user's end of speech (the VAD's stop, less the VAD_STOP_SECS of
  silence it waited for) to the bot's next start of speech, when a reply began after it;
- recognition: the same end of speech to the STT's transcript (pipecat's own STT TTFB);
- synthesis: the reply's text reaching the TTS to the TTS's first audio frame (with a streaming
  LLM, this includes waiting for its first sentence).
"""

from __future__ import annotations

import logging
import uuid

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    ClientConnectedFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMFullResponseStartFrame,
    TextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from src.core import metrics

logger = logging.getLogger(__name__)

_NS = 1_000_000_000


class SpeechTimings(BaseObserver):
    """Records one bot's speech timings into the process's metrics (see the module docstring).

    Args:
        conversation_id: The conversation, for the log lines.
    """

    def __init__(self, conversation_id: uuid.UUID) -> None:
        # Each frame once: the moments timed here are frames' first pushes (or the TTS taking
        # one), and skipping the repeated pushes keeps the observer's queue short.
        super().__init__(observe_every_push=False)
        self._conversation_id = conversation_id
        self._connected: int | None = None
        self._greeted = False
        self._last_stop: float | None = None
        self._speech_end: int | None = None
        self._replying = False
        self._transcript_due: int | None = None
        self._text_at_tts: int | None = None

    async def on_push_frame(self, data: FramePushed) -> None:
        """Time the moments that are frames being pushed."""
        frame, at = data.frame, data.timestamp
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_stopped(frame, at)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_end, self._replying = None, False
        elif isinstance(frame, TranscriptionFrame) and isinstance(data.source, STTService):
            self._transcribed(at)
        elif isinstance(frame, LLMFullResponseStartFrame) and self._speech_end is not None:
            self._replying = True
        elif isinstance(frame, TTSAudioRawFrame) and isinstance(data.source, TTSService):
            self._synthesised(at)
        elif isinstance(frame, BotStartedSpeakingFrame):
            if data.direction == FrameDirection.DOWNSTREAM:
                self._bot_started(at)
        elif isinstance(frame, ClientConnectedFrame) and self._connected is None:
            self._connected = at

    async def on_process_frame(self, data: FrameProcessed) -> None:
        """Time the text reaching the TTS (a frame the TTS starts to process)."""
        if not isinstance(data.processor, TTSService):
            return
        frame = data.frame
        if isinstance(frame, InterruptionFrame):
            self._text_at_tts = None
        elif self._text_at_tts is None and _is_text_to_speak(frame):
            self._text_at_tts = data.timestamp

    def _user_stopped(self, frame: VADUserStoppedSpeakingFrame, at: int) -> None:
        # The VAD's stop is broadcast both ways as two frames made at the same moment.
        if frame.timestamp == self._last_stop:
            return
        self._last_stop = frame.timestamp
        self._speech_end = self._transcript_due = at - int(frame.stop_secs * _NS)
        self._replying = False

    def _transcribed(self, at: int) -> None:
        if self._transcript_due is not None and at >= self._transcript_due:
            metrics.recognition((at - self._transcript_due) / _NS)
        self._transcript_due = None

    def _synthesised(self, at: int) -> None:
        if self._text_at_tts is not None:
            metrics.synthesis((at - self._text_at_tts) / _NS)
        self._text_at_tts = None

    def _bot_started(self, at: int) -> None:
        if not self._greeted:
            self._greeted = True
            if self._connected is not None:
                metrics.greeting_first_audio((at - self._connected) / _NS)
            return
        # Speech that answers nothing (the rest of the greeting) leaves the turn waiting.
        if self._speech_end is None or not self._replying:
            return
        seconds = (at - self._speech_end) / _NS
        metrics.voice_to_voice(seconds)
        logger.debug(
            "conversation %s: answered %.0f ms after the user stopped speaking",
            self._conversation_id,
            seconds * 1000,
        )
        self._speech_end, self._replying = None, False


def _is_text_to_speak(frame: object) -> bool:
    if isinstance(frame, TTSSpeakFrame):
        return True
    return (
        isinstance(frame, TextFrame)
        and not isinstance(frame, TranscriptionFrame | InterimTranscriptionFrame)
        and not frame.skip_tts
        and bool(frame.text.strip())
    )
