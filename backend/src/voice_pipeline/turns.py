"""When the user's turn starts (`BargeIn`) and ends (`TranscriptAwareTurnStop`).

The end: smart-turn v3's verdict, read together with the transcript.

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

The model's verdict is asked for only when the transcript needs it: not for a whole request,
nor for speech that gave no words. It judges the audio as it was at the VAD's stop (what
comes after is held back from it until it has judged), as pipecat's own strategy runs it, but
once the transcript is in rather than at the stop. Run at every stop, its runs (97 ms of CPU
each) were 13 % of a talking server's CPU samples; a burst's answers now come about twice as
fast (bench/README.md, "smart-turn only when the transcript needs it").
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    MetricsFrame,
    SpeechControlParamsFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import TurnMetricsData
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import BaseUserTurnStartStrategy
from pipecat.turns.user_stop import BaseUserTurnStopStrategy

from src.compat.pipecat_turns import turn_interrupted_bot
from src.core import metrics
from src.rooms.base import SpeechControl
from src.voice_pipeline.dialogue import ends_on_dangling_word, is_complete_request

logger = logging.getLogger(__name__)

# A turn whose speech gave no words at all, while the bot was waiting for the user: with this
# much speech (a cough or a click is shorter) the bot says so, once the recogniser has had its
# say (TRANSCRIPT_WAIT_SECS). One that cut the bot short is answered by pipecat's empty-turn
# recovery instead (`user_turns`: the bot takes up what it was cut from), however long.
MIN_UNHEARD_SPEECH_SECS = 0.6
NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"

# A segment the VAD closed can give no transcript at all (a breath, a clipped "year"): its
# words are waited for this long (of silence after the VAD's stop), then the turn is judged on
# the transcript so far. Moonshine takes 0.1-0.3 s a segment, more on a loaded machine.
TRANSCRIPT_WAIT_SECS = 1.0
# Wordless speech that cuts the bot short (a cough, wind, a bus on a phone call) is answered by
# taking up the cut line this many times in a row; further ones, until the user is heard saying
# something, are let be (pipecat's default is one: the second cough left the bot silent). The
# bound keeps a noise that never stops from cutting the same line over and over.
RECOVERIES_IN_A_ROW = 3


class TranscriptAwareTurnStop(BaseUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """A user-turn stop strategy on smart-turn v3 and the transcript (the module docstring).

    Args:
        turn_analyzer: The bot's smart-turn analyzer.
        silence_secs: Silence after the VAD's stop that ends a turn whatever else is said.

    Attributes:
        interrupted_bot: Whether the turn now on cut the bot short, as the user aggregator
            judged it at the turn's start (`compat.pipecat_turns`); such a turn that gives no
            words is left to the aggregator's empty-turn recovery. Default: never.
    """

    def __init__(self, *, turn_analyzer: Any, silence_secs: float) -> None:
        super().__init__()
        self._analyzer = turn_analyzer
        self._silence_limit = silence_secs
        self.interrupted_bot: Callable[[], bool] = lambda: False
        self._speaking = False
        self._in_turn = False
        self._reset()

    def _reset(self) -> None:
        self._texts: list[str] = []
        self._speech_secs = 0.0  # the VAD's speech in this turn
        self._speech_started: float | None = None
        # Segments the VAD closed whose transcript has not come yet (one per segment).
        self._pending = 0
        self._stopped = False
        self._silence = 0.0
        self._model_complete = False
        self._probability: float | None = None
        # The VAD's last stop has not been judged by the model yet; the audio since, held back
        # from the analyzer so that it judges the segment as it was at the stop.
        self._verdict_due = False
        self._held_audio: list[bytes] = []

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
        self._in_turn = True
        if self._speaking:  # the VAD's start that started this turn came before it
            self._speech_started = time.monotonic()

    async def handle_user_turn_stopped(self) -> None:
        """Forget the turn, and the analyzer's buffered speech, however it ended."""
        self._reset()
        self._in_turn = False
        self._analyzer.clear()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Follow the VAD, the audio and the transcripts; end the turn when it is over."""
        if isinstance(frame, StartFrame):
            await self.broadcast_frame(SpeechControlParamsFrame, turn_params=self._analyzer.params)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._analyzer.update_vad_start_secs(frame.start_secs)
            self._release_held_audio()  # the pause, before the speech that ends it
            self._verdict_due = False
            self._speaking, self._stopped, self._silence = True, False, 0.0
            self._model_complete = False
            self._speech_started = time.monotonic() - frame.start_secs
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
        if self._speech_started is not None:
            self._speech_secs += time.monotonic() - self._speech_started
            self._speech_started = None
        self._speaking, self._stopped, self._silence = False, True, 0.0
        self._pending += 1
        self._model_complete = False
        self._verdict_due = True
        await self._decide()

    async def _judge(self) -> None:
        """The model's verdict on the segment as it was at the VAD's stop; then the audio held
        back since goes to the analyzer."""
        self._verdict_due = False
        state, result = await self._analyzer.analyze_end_of_turn()
        if result is not None:
            await self.push_frame(MetricsFrame(data=[result]))
        if isinstance(result, TurnMetricsData):
            self._probability = result.probability
        self._model_complete = state == EndOfTurnState.COMPLETE
        self._release_held_audio()

    def _release_held_audio(self) -> None:
        for audio in self._held_audio:
            self._analyzer.append_audio(audio, False)
        self._held_audio = []

    async def _audio(self, frame: InputAudioRawFrame) -> None:
        # The analyzer keeps the turn's audio (and its own fallback, which this one replaces:
        # it forgets its silence once it has judged a turn complete); in a turn, after a stop
        # not yet judged, the silence is held back from it (at most the turn's silence limit
        # of it: the turn ends by then).
        if self._verdict_due and self._in_turn and not self._speaking:
            self._held_audio.append(frame.audio)
        else:
            self._analyzer.append_audio(frame.audio, self._speaking)
        if not self._stopped or self._speaking:
            return
        self._silence += len(frame.audio) / (2 * frame.num_channels * frame.sample_rate)
        if self._silence >= min(self._silence_limit, TRANSCRIPT_WAIT_SECS):
            await self._decide()

    async def _decide(self) -> None:
        # Speech outside a turn (a backchannel over the bot, which started none) ends nothing.
        if not self._in_turn or not self._stopped or self._speaking:
            return
        if not self._texts:
            await self._unheard()
            return
        text = " ".join(self._texts)
        if self._silence >= self._silence_limit:
            await self._end("silence", text)
        elif self._pending and self._silence < TRANSCRIPT_WAIT_SECS:
            return  # the last segment's words are still being recognised
        elif is_complete_request(text):
            await self._end("request", text)
        elif not ends_on_dangling_word(text):
            if self._verdict_due:
                await self._judge()
            if self._model_complete and self._stopped and not self._speaking:
                await self._end("smart_turn", text)

    async def _unheard(self) -> None:
        """A turn of speech that gave no words, once every transcript is in: the bot says it
        did not catch it (enough speech for a question) or lets it pass (a noise). A turn that
        cut the bot short is answered by the aggregator's recovery (the bot takes up its cut
        line), not here: said here too, the bot would answer it twice."""
        if self._silence < TRANSCRIPT_WAIT_SECS:
            return
        if self._pending and self._silence < self._silence_limit:
            return  # a transcript may still come
        if self.interrupted_bot():
            await self._end("unheard_over_the_bot", "")
        elif self._speech_secs >= MIN_UNHEARD_SPEECH_SECS:
            await self.push_frame(TTSSpeakFrame(NOT_HEARD))
            await self._end("unheard", "")
        else:
            await self._end("noise", "")

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


# Speech over the bot this long after the VAD heard it start (which takes the VAD's 0.2 s of
# speech) is a barge-in whatever its words: a backchannel ("mm-hmm", "yeah") is shorter.
BARGE_IN_SPEECH_SECS = 0.5
# Speech over the bot is held from the VAD's first window Silero is sure of (`voice_heard`,
# ~60 ms into a word), before the smoothed loudness lets the VAD go STARTING (`vad_state`,
# ~150-220 ms later) and long before it confirms the speech (its 0.2 s more); each of the two
# not followed by the next within this lets the bot go on.
FALSE_START_SECS = 0.4
# After Silero's confidence alone held the bot for nothing (a quiet voice in the room, that the
# loudness never let through), it is not heeded again for this long: the bot would stutter.
VOICE_RETRY_SECS = 2.0
# The bot's speech held this long with no verdict (a noise the recogniser made nothing of, its
# transcript still to come) goes on.
HOLD_LIMIT_SECS = 1.5

# After a barge-in the bot's audio stays held (the rest of the interrupted answer that pipecat
# still writes before its interruption reaches the output is dropped) until the interruption is
# reported or the user's turn ends; at most this long.
CUT_LIMIT_SECS = 5.0

# What a listener says to show they follow, and what the recogniser makes of it ("Mm-hmm."
# has been heard as "Imam Mum."). A transcript of these words only, three at most, said over
# the bot, is a backchannel: the bot goes on, and it is not answered.
BACKCHANNEL_WORDS = frozenset(
    "mm mmm mhm mmhm mmhmm hmm hm uh huh uhhuh ah aha oh ooh wow yeah yep yes yup ok okay "
    "right sure alright cool nice great good i see got it imam mum mom".split()
)


# Short words that do ask the bot to stop or listen, however briefly said: a farewell too ("Thank
# you, goodbye!" split at its comma: the goodbye, said over the answer to the thanks, ends the
# call).
INTERRUPT_WORDS = frozenset(
    "stop wait hold no nope what why how tell more pause sorry excuse hey hello again repeat "
    "quiet enough bye goodbye goodnight".split()
)
# A murmur over the bot heard as words: up to this many, in speech shorter than a barge-in.
# Under loss the recogniser makes three of "Mm-hmm." too ("It not long.", a 3 % loss bench
# probe, 2026-12-05); a short request of three ("tell me more", "why is that") has a word of
# INTERRUPT_WORDS.
SHORT_MURMUR_WORDS = 3


def is_backchannel(text: str, *, short: bool = False) -> bool:
    """Whether a transcript said over the bot is a backchannel (or nothing: a noise).

    `short`: the speech was shorter than a barge-in (BARGE_IN_SPEECH_SECS after the VAD's
    start); then any words, SHORT_MURMUR_WORDS at most, but those of INTERRUPT_WORDS count,
    since the recogniser makes all sorts of words of a murmur ("Mm-hmm." heard as "A memo.",
    "Imam Mum.", and under loss "It not long.").
    """
    words = re.findall(r"[a-z]+", text.lower().replace("-", ""))
    if len(words) <= 3 and all(word in BACKCHANNEL_WORDS for word in words):
        return True
    return short and len(words) <= SHORT_MURMUR_WORDS and not INTERRUPT_WORDS.intersection(words)


class BargeIn(BaseUserTurnStartStrategy):  # type: ignore[no-untyped-call]
    """A user-turn start strategy: the user may speak over the bot, a backchannel does not stop it.

    While the bot is silent, a turn starts as with pipecat's defaults: on the VAD's start of
    speech, or on a transcript the VAD missed. While it speaks, the VAD's first window of speech
    (`voice_heard`, then `vad_state` STARTING; each FALSE_START_SECS to be followed by the
    next) holds the bot's audio at once
    (`SpeechControl.hold`: what its track has queued stops going out, before pipecat's
    interruption could reach the output); then:
    - a barge-in (speech going on for BARGE_IN_SPEECH_SECS, or words that are no backchannel)
      cuts the queued rest and starts the user's turn, which interrupts the bot (pipecat drops
      what it had not sent yet); what still comes from before the interruption is dropped
      until pipecat reports the bot stopped or the user's turn ends;
    - a backchannel ("mm-hmm", "yeah", a noise: `is_backchannel`) resumes the bot's speech
      where it stopped, and its words are dropped (never answered);
    - nothing decided within HOLD_LIMIT_SECS of silence resumes it too.
    With no `speech` control (Daily), nothing is held: a barge-in alone stops the bot.

    Args:
        speech: Holds and cuts the bot's queued audio (None: the transport cannot).
        barge_in_secs: Speech after the VAD's start that is a barge-in whatever its words.
        hold_limit_secs: The longest hold without a verdict.
    """

    def __init__(
        self,
        *,
        speech: SpeechControl | None,
        vad: Any = None,
        barge_in_secs: float = BARGE_IN_SPEECH_SECS,
        hold_limit_secs: float = HOLD_LIMIT_SECS,
    ) -> None:
        super().__init__()
        self._speech = speech
        if vad is not None:
            vad.on_voice = self.voice_heard
            vad.on_state = self.vad_state
        self._barge_in_secs = barge_in_secs
        self._hold_limit = hold_limit_secs
        self._bot_speaking = False
        self._user_speaking = False
        self._held = False  # the bot's audio held for speech over it, no verdict yet
        self._tentative = False  # held on speech the VAD has not confirmed (FALSE_START_SECS)
        self._voice_heeded_from = 0.0  # `voice_heard` ignored before (VOICE_RETRY_SECS)
        self._cutting = False  # barged in: the interrupted answer's rest is dropped
        self._in_turn = False  # a user turn is on: its speech is the turn's, not over the bot
        self._speech_started = 0.0  # the VAD's last start of speech
        self._speech_secs = 0.0  # and how long that speech lasted
        self._timers: list[asyncio.Task[None]] = []

    @property
    def held(self) -> bool:
        """Whether the bot's audio is held, waiting for a verdict on the user's speech."""
        return self._held

    async def cleanup(self) -> None:
        """Stop the timers."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        self._cancel_timers()

    def voice_heard(self) -> None:
        """Silero is sure of a window of speech: over the bot, not yet held, it holds the bot."""
        if self._unconfirmed_speech_over() and not self._held:
            if time.monotonic() >= self._voice_heeded_from:
                self._hold(FALSE_START_SECS, tentative=True)

    def vad_state(self, state: VADState) -> None:
        """The VAD's state as it changes: its first window of speech over the bot holds it (or
        gives the hold `voice_heard` made FALSE_START_SECS more to be confirmed)."""
        if state != VADState.STARTING or not self._unconfirmed_speech_over():
            return
        if self._tentative or not self._held:
            self._hold(FALSE_START_SECS, tentative=True)
            self._voice_heeded_from = 0.0

    def _unconfirmed_speech_over(self) -> bool:
        """Whether speech now would be over the bot, and the VAD has not yet confirmed it."""
        return self._bot_speaking and not (self._in_turn or self._user_speaking or self._cutting)

    async def handle_user_turn_started(self) -> None:
        """A turn is on: speech is the user's turn's until it ends."""
        self._in_turn = True

    async def handle_user_turn_stopped(self) -> None:
        """The turn is over (its answer comes next): what was left of the interrupted answer
        is dropped, and the bot's audio goes out again."""
        self._in_turn = False
        if self._cutting:
            self._end_cut()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        """Follow the bot's speech, the VAD and the transcripts; start the user's turn."""
        if self._in_turn and isinstance(frame, (VADUserStartedSpeakingFrame, TranscriptionFrame)):
            return ProcessFrameResult.CONTINUE
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            if self._cutting:  # the interruption reached the output: send again
                self._end_cut()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._user_speaking = True
            self._speech_started = time.monotonic()
            if self._bot_speaking or self._held:
                self._hold(self._hold_limit)
                self._after(self._barge_in_secs, self._long_speech)
            else:
                await self.trigger_user_turn_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speaking = False
            self._speech_secs = time.monotonic() - self._speech_started
        elif isinstance(frame, TranscriptionFrame):
            return await self._transcript(frame.text)
        return ProcessFrameResult.CONTINUE

    async def _transcript(self, text: str) -> ProcessFrameResult:
        if not (self._held or self._bot_speaking):
            # A transcript the VAD missed the start of starts a turn (pipecat's default).
            if text.strip():
                await self.trigger_user_turn_started()
            return ProcessFrameResult.CONTINUE
        short = not self._user_speaking and self._speech_secs < self._barge_in_secs
        if not is_backchannel(text, short=short):
            await self._barge_in(f"words: {text!r}")
            return ProcessFrameResult.CONTINUE
        logger.debug("a backchannel over the bot, not answered: %r", text)
        metrics.speech_over_the_bot("backchannel")
        await self.trigger_reset_aggregation()  # type: ignore[no-untyped-call]
        if not self._user_speaking:
            self._resume()
        return ProcessFrameResult.STOP

    def _hold(self, limit: float, *, tentative: bool = False) -> None:
        """Hold the bot's audio (if not yet), with a verdict due within `limit`."""
        self._cancel_timers()
        self._tentative = tentative
        if not self._held:
            self._held = True
            if self._speech is not None:
                self._speech.hold()
        self._after(limit, self._hold_expired)

    def _resume(self) -> None:
        self._cancel_timers()
        self._held = self._tentative = False
        if self._speech is not None:
            self._speech.resume()

    async def _long_speech(self) -> None:
        if self._user_speaking and self._held:
            await self._barge_in(f"{self._barge_in_secs:.1f} s of speech")

    async def _hold_expired(self) -> None:
        if self._held and self._user_speaking:
            await self._barge_in("speech through the hold")
        elif self._held:
            if self._tentative:
                self._voice_heeded_from = time.monotonic() + VOICE_RETRY_SECS
            logger.debug("speech over the bot came to nothing: it goes on")
            self._resume()

    async def _barge_in(self, why: str) -> None:
        logger.debug("the user barged in (%s): the bot stops and listens", why)
        metrics.speech_over_the_bot("barge_in")
        self._cancel_timers()
        self._held = self._tentative = False
        self._cutting = True
        if self._speech is not None:
            self._speech.hold()  # stays held until the interruption has reached the output
            self._speech.cut()
            self._speech.hold()
        self._after(CUT_LIMIT_SECS, self._cut_expired)
        await self.trigger_user_turn_started()

    async def _cut_expired(self) -> None:
        if self._cutting:
            self._end_cut()

    def _end_cut(self) -> None:
        self._cutting = False
        self._cancel_timers()
        if self._speech is not None:
            self._speech.cut()  # what came between the barge-in and the interruption

    def _after(self, seconds: float, then: Callable[[], Awaitable[None]]) -> None:
        async def wait() -> None:
            await asyncio.sleep(seconds)
            await then()

        self._timers = [t for t in self._timers if not t.done()]
        self._timers.append(asyncio.create_task(wait()))

    def _cancel_timers(self) -> None:
        current = asyncio.current_task()
        for timer in self._timers:
            if timer is not current:
                timer.cancel()
        self._timers = []


def user_turns(
    context: Any,
    *,
    vad: Any,
    start: list[BaseUserTurnStartStrategy] | None,
    stop: TranscriptAwareTurnStop,
) -> Any:
    """The bot's context aggregators (an `LLMContextAggregatorPair`), its user turns started by
    `start` (None: pipecat's, any speech interrupts) and ended by `stop`.

    A turn that gave no words: while the bot waited for the user, `stop` answers it (NOT_HEARD,
    or nothing for a noise); one that cut the bot short (a cough, a "please" the recogniser
    missed), pipecat's empty-turn recovery answers, up to RECOVERIES_IN_A_ROW in a row: an LLM
    as pipecat prompts it, the built-in brain by taking up its cut line. Unanswered, the bot
    fell silent mid-answer.
    """
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.turns.empty_user_turn import EmptyUserTurnConfig
    from pipecat.turns.user_turn_strategies import UserTurnStrategies

    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            vad_analyzer=vad,
            empty_user_turn=EmptyUserTurnConfig(
                idle_prompt=None, max_consecutive_recoveries=RECOVERIES_IN_A_ROW
            ),
            # The user may speak over the bot; a backchannel does not stop it (BargeIn).
            user_turn_strategies=UserTurnStrategies(start=start, stop=[stop]),
        ),
    )
    stop.interrupted_bot = functools.partial(turn_interrupted_bot, aggregators.user())
    return aggregators
