"""Barge-in without WebRTC: the start strategy on scripted frames, and the bot's track held,
resumed and cut (issue 23). The real call is in test_turns.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    LLMContextFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)

from src.rooms.local.media import SpeechTrack
from src.voice_pipeline.spoken import SpokenLines
from src.voice_pipeline.turns import BargeIn, is_backchannel

pytestmark = pytest.mark.once


class Speech:
    """The transport's `SpeechControl`, recording what it was told."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def hold(self) -> None:
        self.calls.append("hold")

    def resume(self) -> None:
        self.calls.append("resume")

    def cut(self) -> None:
        self.calls.append("cut")


class Strategy:
    """A `BargeIn` and what it triggered."""

    def __init__(self, speech: Speech | None, barge_in_secs: float = 0.3) -> None:
        self.speech = speech
        self.strategy = BargeIn(speech=speech, barge_in_secs=barge_in_secs, hold_limit_secs=0.6)
        self.turns = 0
        self.resets = 0

        async def started(_strategy: Any, _params: Any) -> None:
            self.turns += 1

        async def reset(_strategy: Any) -> None:
            self.resets += 1

        self.strategy.add_event_handler("on_user_turn_started", started)
        self.strategy.add_event_handler("on_reset_aggregation", reset)

    async def feed(self, *frames: Frame) -> None:
        for frame in frames:
            await self.strategy.process_frame(frame)


def _text(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="u", timestamp="")


@pytest.mark.parametrize(
    "text", ["Mm-hmm.", "Imam Mum.", "Yeah.", "Okay", "uh huh", "Right, right.", "I see.", ""]
)
def test_backchannels_and_noise(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    [
        "What is my soul urge number?",
        "Stop.",
        "Wait, what about my year?",
        "yes yes yes no",
        "Goodbye!",
        "Okay, bye.",
    ],
)
def test_anything_else_is_no_backchannel(text: str) -> None:
    assert not is_backchannel(text)
    assert not is_backchannel(text, short=True)


@pytest.mark.parametrize("text", ["A memo.", "Mama.", "Uh, humph.", "It not long.", "At Memlam."])
def test_a_short_murmur_is_a_backchannel_whatever_it_was_heard_as(text: str) -> None:
    assert is_backchannel(text, short=True)
    assert not is_backchannel(text)


@pytest.mark.parametrize(
    "text", ["Tell me more.", "Why is that?", "How come?", "What was that?", "Wait a second."]
)
def test_a_short_request_is_no_backchannel(text: str) -> None:
    assert not is_backchannel(text, short=True)


async def test_while_the_bot_is_silent_a_turn_starts_on_the_vad() -> None:
    s = Strategy(Speech())
    await s.feed(VADUserStartedSpeakingFrame())
    assert s.turns == 1
    assert s.speech is not None
    assert s.speech.calls == []


async def test_a_transcript_the_vad_missed_starts_a_turn() -> None:
    s = Strategy(Speech())
    await s.feed(_text("What is my life path number?"))
    assert s.turns == 1


async def test_speech_over_the_bot_holds_it_at_once_and_a_question_cuts_it() -> None:
    s = Strategy(Speech())
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    assert s.speech is not None
    assert s.speech.calls == ["hold"]
    assert (s.turns, s.strategy.held) == (0, True)
    await s.feed(VADUserStoppedSpeakingFrame(), _text("What is my soul urge number?"))
    assert s.turns == 1
    assert s.speech.calls[:3] == ["hold", "hold", "cut"]
    # The rest of the interrupted answer stays held until pipecat reports the bot stopped.
    assert s.speech.calls[-1] == "hold"
    await s.feed(BotStoppedSpeakingFrame())
    assert s.speech.calls[-1] == "cut"


async def test_long_speech_over_the_bot_is_a_barge_in_before_its_words() -> None:
    s = Strategy(Speech(), barge_in_secs=0.1)
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await asyncio.sleep(0.2)
    assert s.turns == 1
    assert s.speech is not None
    assert "cut" in s.speech.calls


async def test_a_backchannel_resumes_the_bot_and_is_not_answered() -> None:
    s = Strategy(Speech())
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await s.feed(VADUserStoppedSpeakingFrame(), _text("Mm-hmm."))
    assert s.speech is not None
    assert s.speech.calls == ["hold", "resume"]
    assert (s.turns, s.resets, s.strategy.held) == (0, 1, False)
    await asyncio.sleep(0.7)  # no timer left to start a turn or cut anything later
    assert s.turns == 0
    assert s.speech.calls == ["hold", "resume"]


async def test_a_murmur_heard_as_words_resumes_the_bot() -> None:
    speech = Speech()
    s = Strategy(speech)
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await s.feed(VADUserStoppedSpeakingFrame(), _text("A memo."))
    assert speech.calls == ["hold", "resume"]
    assert s.turns == 0


async def test_speech_within_the_user_s_turn_holds_nothing() -> None:
    speech = Speech()
    s = Strategy(speech)
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await s.feed(VADUserStoppedSpeakingFrame(), _text("What is my soul urge number?"))
    await s.strategy.handle_user_turn_started()  # as pipecat's controller does
    calls = list(speech.calls)
    await s.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(), _text("please"))
    assert speech.calls == calls
    await s.strategy.handle_user_turn_stopped()
    assert speech.calls == [*calls, "cut"]  # the interrupted answer's rest dropped, audio on


async def test_the_vad_s_first_window_of_speech_holds_the_bot_before_it_confirms() -> None:
    speech = Speech()
    s = Strategy(speech)
    s.strategy.vad_state(VADState.STARTING)  # the bot silent: nothing to hold
    assert speech.calls == []
    await s.feed(BotStartedSpeakingFrame())
    s.strategy.vad_state(VADState.STARTING)
    assert speech.calls == ["hold"]
    s.strategy.vad_state(VADState.QUIET)  # a click, never confirmed as speech
    await asyncio.sleep(0.5)
    assert speech.calls == ["hold", "resume"]
    s.strategy.vad_state(VADState.STARTING)  # then real speech: held again, and confirmed
    await s.feed(VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame(), _text("Stop."))
    assert s.turns == 1
    assert speech.calls[2:5] == ["hold", "hold", "cut"]


async def test_silero_s_sure_window_holds_the_bot_before_the_vad_goes_starting() -> None:
    speech = Speech()
    s = Strategy(speech)
    s.strategy.voice_heard()  # the bot silent: nothing to hold
    assert speech.calls == []
    await s.feed(BotStartedSpeakingFrame())
    s.strategy.voice_heard()
    assert speech.calls == ["hold"]
    s.strategy.voice_heard()  # the next windows of the same speech: held already
    await asyncio.sleep(0.3)
    s.strategy.vad_state(VADState.STARTING)  # the loudness follows: FALSE_START_SECS more
    await asyncio.sleep(0.3)  # 0.6 s after the first window: held still
    assert speech.calls == ["hold"]
    await s.feed(VADUserStartedSpeakingFrame())  # confirmed: the hold limit from here
    s.strategy.voice_heard()
    s.strategy.vad_state(VADState.STARTING)  # confirmed speech is not held afresh
    await s.feed(VADUserStoppedSpeakingFrame(), _text("Stop."))
    assert s.turns == 1
    assert speech.calls == ["hold", "hold", "cut", "hold"]


async def test_a_quiet_voice_the_loudness_never_lets_through_pauses_the_bot_once() -> None:
    speech = Speech()
    s = Strategy(speech)
    await s.feed(BotStartedSpeakingFrame())
    s.strategy.voice_heard()
    await asyncio.sleep(0.5)  # no STARTING within FALSE_START_SECS: the bot goes on
    assert speech.calls == ["hold", "resume"]
    s.strategy.voice_heard()  # the same voice again: not heeded for VOICE_RETRY_SECS
    assert speech.calls == ["hold", "resume"]
    s.strategy.vad_state(VADState.STARTING)  # loud speech still holds at once
    assert speech.calls == ["hold", "resume", "hold"]


async def test_a_noise_without_words_resumes_the_bot_after_the_hold_limit() -> None:
    s = Strategy(Speech())
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await s.feed(VADUserStoppedSpeakingFrame())
    await asyncio.sleep(0.8)
    assert s.speech is not None
    assert s.speech.calls == ["hold", "resume"]
    assert s.turns == 0


async def test_without_speech_control_a_question_still_barges_in() -> None:
    s = Strategy(None)
    await s.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    await s.feed(VADUserStoppedSpeakingFrame(), _text("What does it mean?"))
    assert s.turns == 1


async def _packets(track: SpeechTrack, count: int, within: float = 1.0) -> int:
    """How many packets the track gives within `within` s (at most `count`)."""
    got = 0
    try:
        async with asyncio.timeout(within):
            while got < count:
                await track.recv()
                got += 1
    except TimeoutError:
        pass
    return got


async def test_the_track_sends_nothing_while_held_and_resumes_where_it_stopped() -> None:
    track = SpeechTrack(16_000)
    frame = 16_000 * 2 // 50  # 20 ms
    track.add_audio_bytes(bytes(frame * 10))
    assert await _packets(track, 2) == 2
    track.hold()
    assert await _packets(track, 1, within=0.2) == 0
    track.resume()
    # The 8 packets left, then the hangover's silence: nothing of the speech was lost.
    assert await _packets(track, 8) == 8
    track.stop()


async def test_a_cut_drops_the_unsent_speech_and_releases_its_writer() -> None:
    track = SpeechTrack(16_000)
    frame = 16_000 * 2 // 50
    written = track.add_audio_bytes(bytes(frame * 50))  # 1 s
    assert await _packets(track, 2) == 2
    track.hold()
    assert not written.done()
    assert track.cut() == frame * 48
    assert written.done()
    assert not track.held
    track.stop()


async def test_after_a_cut_a_new_write_is_done_as_soon_as_its_own_audio_is_sent() -> None:
    """Dropped audio counts as sent: the next answer's writes are not held back by it (they
    were, by the whole dropped rest, and the bot's next answer stalled after its first chunk)."""
    track = SpeechTrack(16_000)
    frame = 16_000 * 2 // 50
    track.add_audio_bytes(bytes(frame * 50))
    assert await _packets(track, 2) == 2
    track.cut()
    nxt = track.add_audio_bytes(bytes(frame * 6))  # done when at most 4 packets are left
    assert await _packets(track, 2) == 2
    assert nxt.done()
    track.stop()


class _Analyzer:
    """smart-turn's analyzer, never judging a turn complete."""

    params = None

    def set_sample_rate(self, rate: int) -> None: ...

    def update_vad_start_secs(self, secs: float) -> None: ...

    def append_audio(self, audio: bytes, speaking: bool) -> None: ...

    async def analyze_end_of_turn(self) -> tuple[Any, None]:
        from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState

        return EndOfTurnState.INCOMPLETE, None

    def clear(self) -> None: ...

    async def cleanup(self) -> None: ...


class _JudgingAnalyzer(_Analyzer):
    """smart-turn's analyzer, judging every turn complete; it records the audio it was given
    (whether each chunk was speech) and how many chunks it had each time it judged."""

    def __init__(self) -> None:
        self.appended: list[bool] = []
        self.judged_with: list[int] = []

    def append_audio(self, audio: bytes, speaking: bool) -> None:
        self.appended.append(speaking)

    async def analyze_end_of_turn(self) -> tuple[Any, None]:
        from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState

        self.judged_with.append(len(self.appended))
        return EndOfTurnState.COMPLETE, None


class _Stop:
    """A `TranscriptAwareTurnStop` on `analyzer` (silence limit 2 s), and what it did: the
    frames it pushed, the turns it ended."""

    def __init__(self, analyzer: _Analyzer) -> None:
        from src.voice_pipeline.turns import TranscriptAwareTurnStop

        self.strategy = TranscriptAwareTurnStop(turn_analyzer=analyzer, silence_secs=2.0)
        self.pushed: list[Frame] = []
        self.ended = 0

        async def push(_strategy: Any, frame: Frame, _direction: Any) -> None:
            self.pushed.append(frame)

        async def stopped(_strategy: Any, _params: Any) -> None:
            self.ended += 1

        self.strategy.add_event_handler("on_push_frame", push)
        self.strategy.add_event_handler("on_user_turn_stopped", stopped)

    async def process_frame(self, frame: Frame) -> None:
        await self.strategy.process_frame(frame)

    async def handle_user_turn_started(self) -> None:
        await self.strategy.handle_user_turn_started()


async def _spoken_turn(text: str, analyzer: _JudgingAnalyzer, *, in_turn: bool = True) -> int:
    """Through the stop strategy: 10 chunks of speech, the VAD's stop, 5 chunks of silence,
    `text` as the transcript, 5 more chunks of silence; the turns it ended."""
    from pipecat.frames.frames import InputAudioRawFrame

    stop = _Stop(analyzer)
    chunk = InputAudioRawFrame(bytes(16_000 * 2 // 50), 16_000, 1)  # 20 ms
    await stop.process_frame(VADUserStartedSpeakingFrame(start_secs=0.0))
    if in_turn:
        await stop.handle_user_turn_started()
    for _ in range(10):
        await stop.process_frame(chunk)
    await stop.process_frame(VADUserStoppedSpeakingFrame())
    for _ in range(5):
        await stop.process_frame(chunk)
    await stop.process_frame(_text(text))
    for _ in range(5):
        await stop.process_frame(chunk)
    return stop.ended


async def test_a_whole_request_ends_its_turn_without_the_model() -> None:
    analyzer = _JudgingAnalyzer()
    assert await _spoken_turn("What is my life path number?", analyzer) == 1
    assert analyzer.judged_with == []  # the transcript decided: smart-turn never ran


async def test_the_model_judges_the_segment_as_it_was_at_the_vads_stop() -> None:
    analyzer = _JudgingAnalyzer()
    assert await _spoken_turn("For John Smith.", analyzer) == 1  # ended by smart-turn
    # Judged on the 10 chunks of speech, not the silence that came before the transcript;
    # that silence was given to it after, in its place.
    assert analyzer.judged_with == [10]
    assert analyzer.appended[:15] == [True] * 10 + [False] * 5


async def test_a_transcript_ending_on_a_dangling_word_waits_without_the_model() -> None:
    analyzer = _JudgingAnalyzer()
    assert await _spoken_turn("What is the expression number of", analyzer) == 0
    assert analyzer.judged_with == []


async def test_outside_a_turn_nothing_is_held_back_from_the_analyzer() -> None:
    # Speech over the bot that started no turn (a backchannel): no verdict will be asked.
    analyzer = _JudgingAnalyzer()
    assert await _spoken_turn("Mm-hmm.", analyzer, in_turn=False) == 0
    assert analyzer.judged_with == []
    assert analyzer.appended == [True] * 10 + [False] * 10


async def _unheard_turn(speech_secs: float) -> tuple[list[Frame], int]:
    """A turn of `speech_secs` of speech whose transcript is empty, then 1.2 s of silence:
    the frames the stop strategy pushed, and the turns it ended."""
    from pipecat.frames.frames import InputAudioRawFrame

    stop = _Stop(_Analyzer())
    await stop.process_frame(VADUserStartedSpeakingFrame(start_secs=0.0))
    await stop.handle_user_turn_started()
    await asyncio.sleep(speech_secs)
    await stop.process_frame(VADUserStoppedSpeakingFrame())
    await stop.process_frame(_text(""))
    silence = bytes(16_000 * 2 // 25)  # 40 ms
    for _ in range(30):
        await stop.process_frame(InputAudioRawFrame(silence, 16_000, 1))
    return stop.pushed, stop.ended


async def test_speech_that_gave_no_words_is_asked_again() -> None:
    from pipecat.frames.frames import TTSSpeakFrame

    from src.voice_pipeline.turns import NOT_HEARD

    pushed, ended = await _unheard_turn(0.7)
    assert ended == 1
    assert [f.text for f in pushed if isinstance(f, TTSSpeakFrame)] == [NOT_HEARD]


async def test_a_noise_that_gave_no_words_ends_the_turn_unanswered() -> None:
    from pipecat.frames.frames import TTSSpeakFrame

    pushed, ended = await _unheard_turn(0.1)
    assert ended == 1
    assert not [f for f in pushed if isinstance(f, TTSSpeakFrame)]


async def _replies(*turns: tuple[str, float]) -> list[str]:
    """The built-in brain's replies to user turns, each (text, seconds after the previous
    answer at which the user began it)."""
    import uuid
    from datetime import date

    from pipecat.frames.frames import LLMTextFrame, UserStartedSpeakingFrame
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.tests.utils import SleepFrame, run_test

    from src.voice_pipeline.dialogue import Numerologist
    from src.voice_pipeline.numerologist import BotState, NumerologistProcessor

    brain = NumerologistProcessor(
        Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)),
        BotState(uuid.uuid4(), said=lambda *_a: None),
    )
    messages: list[Any] = []
    frames: list[Frame] = []
    for text, after in turns:
        messages.append({"role": "user", "content": text})
        context = LLMContext(messages=list(messages))  # the context as it was at that turn
        frames += [SleepFrame(after), UserStartedSpeakingFrame(), LLMContextFrame(context)]
    down, _ = await run_test(brain, frames_to_send=frames)
    return [f.text for f in down if isinstance(f, LLMTextFrame)]


async def test_a_request_in_two_turns_is_answered_on_the_whole_of_it() -> None:
    first, second = await _replies(("What is the expression number", 0.0), ("for John Smith?", 0.1))
    assert "expression number is 9" in first  # Ada Lovelace's own, at once
    (whole,) = await _replies(("What is the expression number for John Smith?", 0.0))
    assert second == whole != first


async def test_a_request_of_its_own_is_not_joined() -> None:
    _, meaning = await _replies(("What is my life path number?", 0.0), ("What does it mean?", 0.1))
    assert meaning.startswith("7 is The Seeker")
    # Not joined: a request of its own, even 0.1 s after the answer began.
    _, meaning = await _replies(("What is my life path number?", 0.0), ("What does it mean?", 0.1))
    assert meaning.startswith("7 is The Seeker")


async def _wordless_turn(bot_speaking: bool, cuts: int = 1) -> tuple[list[str], SpokenLines]:
    """Through pipecat's user aggregator as the bot builds it (`turns.user_turns`, pipecat's
    start strategies) and the built-in brain: the bot's answer cut after its first sentence,
    or spoken whole, then 0.7 s of speech that gives no words and 1.2 s of silence, `cuts`
    times in a row (each line taken up cut again after its first sentence's first two words).
    What the brain said after, and the bot's lines."""
    import uuid
    from datetime import date

    from pipecat.frames.frames import (
        InputAudioRawFrame,
        LLMTextFrame,
        TTSSpeakFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.tests.utils import SleepFrame, run_test

    from src.voice_pipeline.dialogue import Numerologist
    from src.voice_pipeline.numerologist import BotState, NumerologistProcessor
    from src.voice_pipeline.turns import TranscriptAwareTurnStop, user_turns

    state = BotState(uuid.uuid4(), said=lambda *_a: None)
    lines = SpokenLines(state.conversation_id, state.said)
    lines.plan("Your life path is 7. Seven is The Seeker. It loves questions.")
    if bot_speaking:
        lines.spoken("Your life path is 7. Seven is", interrupted=True)
    else:
        lines.spoken("Your life path is 7. Seven is The Seeker. It loves questions.")
    stop = TranscriptAwareTurnStop(turn_analyzer=_Analyzer(), silence_secs=2.0)
    aggregators = user_turns(LLMContext(), vad=None, start=None, stop=stop)
    brain = NumerologistProcessor(
        Numerologist("Ada Lovelace", "Ada", date(1984, 7, 5)), state, lines.take_unfinished
    )
    silence = InputAudioRawFrame(bytes(16_000 * 2 // 25), 16_000, 1)  # 40 ms
    wordless: list[Frame] = [
        VADUserStartedSpeakingFrame(start_secs=0.0),
        SleepFrame(0.7),
        VADUserStoppedSpeakingFrame(),
        _text(""),
        *([silence] * 30),
        SleepFrame(0.3),
    ]
    frames: list[Frame] = [
        BotStartedSpeakingFrame(),
        *([] if bot_speaking else [BotStoppedSpeakingFrame()]),
        *wordless,
    ]
    for _ in range(cuts - 1):
        frames += [BotStartedSpeakingFrame(), *wordless]  # the line taken up, cut again

    class CutAgain(FrameProcessor):
        """The bot speaks the line taken up and is cut two words in."""

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, LLMTextFrame):
                lines.plan(frame.text)
                lines.spoken(" ".join(frame.text.split()[:2]), interrupted=True)
            await self.push_frame(frame, direction)

    down, _ = await run_test(
        Pipeline([aggregators.user(), brain, *([CutAgain()] if cuts > 1 else [])]),
        frames_to_send=frames,
        expected_down_frames=None,
    )
    said = [f.text for f in down if isinstance(f, LLMTextFrame | TTSSpeakFrame)]
    return said, lines


async def test_speech_that_cut_the_bot_and_gave_no_words_takes_up_the_cut_line() -> None:
    """A "please" the recogniser missed, or a cough: the bot, cut mid-answer, goes on from the
    sentence it was cut in, and is not also asked to say it did not catch it."""
    said, lines = await _wordless_turn(bot_speaking=True)
    assert said == ["Seven is The Seeker. It loves questions."]
    assert lines.take_unfinished() is None


async def test_wordless_speech_cutting_the_bot_again_and_again_is_taken_up_a_few_times() -> None:
    """Coughs, wind, a bus on a phone call: each cut of the line taken up takes it up again
    (pipecat answers one in a row by default: the bot fell silent at the second), up to
    RECOVERIES_IN_A_ROW, so a noise that never stops does not cut the same line for ever."""
    from src.voice_pipeline.turns import RECOVERIES_IN_A_ROW

    said, _ = await _wordless_turn(bot_speaking=True, cuts=RECOVERIES_IN_A_ROW + 1)
    assert RECOVERIES_IN_A_ROW > 1
    assert said == ["Seven is The Seeker. It loves questions."] * RECOVERIES_IN_A_ROW


async def test_speech_that_gave_no_words_while_the_bot_waited_is_asked_again() -> None:
    from src.voice_pipeline.turns import NOT_HEARD

    said, _ = await _wordless_turn(bot_speaking=False)
    assert said == [NOT_HEARD]
