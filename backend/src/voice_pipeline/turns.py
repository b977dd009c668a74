"""When the user's turn ends: smart-turn v3's verdict, read together with the transcript.

pipecat's `TurnAnalyzerUserTurnStopStrategy` ends a turn only when smart-turn v3 judges it
complete; otherwise after smart-turn's silence fallback (3 s in pipecat). On Piper's takes of
"What does it mean?" the model's probability lands either side of its 0.5 threshold (0.47 to
0.93), so one answer in a few came 3.4 s late. And the model judges by sound only: it calls
"Tell me the expression number for" complete (0.98) and the bot would answer mid-sentence.

This strategy ends the turn, once the VAD has heard the user stop and the transcript of every
segment so far is in:
- at once when the transcript is a whole request the dialogue understands
  (`dialogue.is_complete_request`), whatever the model says ("request");
- when the model judges it complete and the transcript does not stop on a dangling word
  ("smart_turn");
- otherwise after TURN_SILENCE_SECS of silence ("silence"), which is also the wait for any
  utterance the dialogue does not know (an LLM brain's free conversation).
"""

from __future__ import annotations

import logging
from typing import Any

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    MetricsFrame,
    SpeechControlParamsFrame,
    StartFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TurnMetricsData
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import BaseUserTurnStopStrategy

from src.core import metrics
from src.voice_pipeline.dialogue import ends_on_dangling_word, is_complete_request

logger = logging.getLogger(__name__)

# A segment the VAD closed can give no transcript at all (a breath, a clipped "year"): its
# words are waited for this long (of silence after the VAD's stop), then the turn is judged on
# the transcript so far. Moonshine takes 0.1-0.3 s a segment, more on a loaded machine.
TRANSCRIPT_WAIT_SECS = 1.0


class TranscriptAwareTurnStop(BaseUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """A user-turn stop strategy on smart-turn v3 and the transcript (the module docstring).

    Args:
        turn_analyzer: The bot's smart-turn analyzer.
        silence_secs: Silence after the VAD's stop that ends a turn whatever else is said.
    """

    def __init__(self, *, turn_analyzer: Any, silence_secs: float) -> None:
        super().__init__()
        self._analyzer = turn_analyzer
        self._silence_limit = silence_secs
        self._speaking = False
        self._reset()

    def _reset(self) -> None:
        self._texts: list[str] = []
        # Segments the VAD closed whose transcript has not come yet (one per segment).
        self._pending = 0
        self._stopped = False
        self._silence = 0.0
        self._model_complete = False
        self._probability: float | None = None

    async def setup(self, setup: Any) -> None:
        """Set up, and give the analyzer the pipeline's input sample rate."""
        await super().setup(setup)
        self._analyzer.set_sample_rate(setup.audio_in_sample_rate)

    async def cleanup(self) -> None:
        """Release the analyzer's thread."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        await self._analyzer.cleanup()

    async def handle_user_turn_started(self) -> None:
        """Arm for the turn now starting."""
        self._reset()

    async def handle_user_turn_stopped(self) -> None:
        """Forget the turn, and the analyzer's buffered speech, however it ended."""
        self._reset()
        self._analyzer.clear()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Follow the VAD, the audio and the transcripts; end the turn when it is over."""
        if isinstance(frame, StartFrame):
            await self.broadcast_frame(SpeechControlParamsFrame, turn_params=self._analyzer.params)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._analyzer.update_vad_start_secs(frame.start_secs)
            self._speaking, self._stopped, self._silence = True, False, 0.0
            self._model_complete = False
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._user_stopped()
        elif isinstance(frame, InputAudioRawFrame):
            await self._audio(frame)
        elif isinstance(frame, TranscriptionFrame):
            if frame.text.strip():
                self._texts.append(frame.text.strip())
            self._pending = max(0, self._pending - 1)
            # A turn a transcript started (no VAD stop in it) is judged from here on.
            self._stopped = self._stopped or not self._speaking
            await self._decide()
        return ProcessFrameResult.CONTINUE

    async def _user_stopped(self) -> None:
        self._speaking, self._stopped, self._silence = False, True, 0.0
        self._pending += 1
        state, result = await self._analyzer.analyze_end_of_turn()
        if result is not None:
            await self.push_frame(MetricsFrame(data=[result]))
        if isinstance(result, TurnMetricsData):
            self._probability = result.probability
        self._model_complete = state == EndOfTurnState.COMPLETE
        await self._decide()

    async def _audio(self, frame: InputAudioRawFrame) -> None:
        # The analyzer keeps the turn's audio (and its own fallback, which this one replaces:
        # it forgets its silence once it has judged a turn complete).
        self._analyzer.append_audio(frame.audio, self._speaking)
        if not self._stopped or self._speaking:
            return
        self._silence += len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
        if self._silence >= min(self._silence_limit, TRANSCRIPT_WAIT_SECS):
            await self._decide()

    async def _decide(self) -> None:
        if not self._stopped or self._speaking or not self._texts:
            return
        text = " ".join(self._texts)
        if self._silence >= self._silence_limit:
            await self._end("silence", text)
        elif self._pending and self._silence < TRANSCRIPT_WAIT_SECS:
            return  # the last segment's words are still being recognised
        elif is_complete_request(text):
            await self._end("request", text)
        elif self._model_complete and not ends_on_dangling_word(text):
            await self._end("smart_turn", text)

    async def _end(self, ended_by: str, text: str) -> None:
        logger.debug(
            "user turn ended by %s after %.2f s of silence (smart-turn p=%s): %r",
            ended_by,
            self._silence,
            "-" if self._probability is None else f"{self._probability:.2f}",
            text,
        )
        metrics.user_turn(ended_by)
        self._reset()  # decided once, even if the turn was already over
        await self.trigger_user_turn_stopped()
