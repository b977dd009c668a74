"""The bot's lines are stored as they were spoken: whole, cut short by the user, or not at all."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pipecat.frames.frames import (
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputTransportMessageUrgentFrame,
    TTSSpeakFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test
from pipecat.utils.text.base_text_aggregator import TextType

from src.core.enums import MessageRole, MessageSource
from src.numerology.kinds import NumberKind
from src.voice_pipeline import speech
from src.voice_pipeline.numerologist import BotState, BotTranscriptSender
from src.voice_pipeline.spoken import (
    MAX_PLANNED,
    Cut,
    SpokenLines,
    report_spoken,
    words,
)
from tests.api.conversation_helpers import eventually
from tests.conftest import auth
from tests.voice.calls import new_call
from tests.voice.conftest import synthesise

# The SQLite pass is enough (the transcript is stored on both databases by tests/api).
pytestmark = pytest.mark.once

ANSWER = ["Your life path number is 7.", "Seven is the seeker.", "It loves questions."]


@dataclass
class Transcript:
    """What reached the bot's events."""

    lines: list[tuple[Any, ...]] = field(default_factory=list)

    def __call__(
        self,
        role: MessageRole,
        text: str,
        kinds: tuple[str, ...] = (),
        source: MessageSource = MessageSource.VOICE,
        interrupted: bool = False,
    ) -> None:
        self.lines.append((role, text, kinds, source, interrupted))


class TestPairing:
    def test_a_line_spoken_whole_is_stored_as_planned(self) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan(" ".join(ANSWER), ("life_path",), MessageSource.TEXT)
        lines.spoken("your life path number is 7 .  Seven is the seeker. It loves questions.")
        assert transcript.lines == [
            (MessageRole.ASSISTANT, " ".join(ANSWER), ("life_path",), MessageSource.TEXT, False)
        ]
        assert lines.waiting == 0

    def test_a_line_cut_short_keeps_what_was_said_marked_interrupted(self) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan(" ".join(ANSWER), ("life_path",))
        lines.spoken(" ".join(ANSWER[:2]), interrupted=True)
        assert transcript.lines == [
            (
                MessageRole.ASSISTANT,
                " ".join(ANSWER[:2]),
                ("life_path",),
                MessageSource.VOICE,
                True,
            )
        ]

    def test_a_line_cut_before_its_first_word_is_not_stored_and_does_not_shift_the_next(
        self,
    ) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan(" ".join(ANSWER), ("life_path",))
        lines.spoken("")  # the user spoke before the first sentence went out
        lines.plan("Sorry, I didn't catch that.")
        lines.spoken("Sorry, I didn't catch that.")
        assert transcript.lines == [
            (MessageRole.ASSISTANT, "Sorry, I didn't catch that.", (), MessageSource.VOICE, False)
        ]
        assert lines.waiting == 0
        # The page, which showed the first line when it was planned, drops it.
        assert lines.cuts == [Cut("b1", "")]

    def test_a_line_spoken_sentence_by_sentence_is_stored_once_whole(self) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan(" ".join(ANSWER))
        for sentence in ANSWER:
            assert transcript.lines == []
            lines.spoken(sentence)
        assert transcript.lines == [
            (MessageRole.ASSISTANT, " ".join(ANSWER), (), MessageSource.VOICE, False)
        ]

    @pytest.mark.parametrize("how", ["interrupted", "the call ended", "the next line came"])
    def test_a_line_cut_between_its_sentences_keeps_those_said(self, how: str) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan(" ".join(ANSWER), ("life_path",))
        lines.spoken(ANSWER[0])
        if how == "interrupted":
            lines.spoken("", interrupted=True)
        elif how == "the call ended":
            lines.close()
        else:
            lines.plan("Goodbye.")
            lines.spoken("Goodbye.")
        assert transcript.lines[0] == (
            MessageRole.ASSISTANT,
            ANSWER[0],
            ("life_path",),
            MessageSource.VOICE,
            True,
        )
        assert len(transcript.lines) == (2 if how == "the next line came" else 1)
        lines.close()
        assert len(transcript.lines) == (2 if how == "the next line came" else 1)

    def test_a_line_cut_mid_sentence_keeps_its_words_as_written(self) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.plan("Your number is 7, the seeker's. It loves questions.")
        lines.spoken("your number is 7 the seeker's", interrupted=True)
        assert transcript.lines[0][1] == "Your number is 7, the seeker's."

    def test_a_line_pipecat_spoke_unplanned_is_stored_as_heard(self) -> None:
        transcript = Transcript()
        lines = SpokenLines(uuid.uuid4(), transcript)
        lines.spoken("Hello.")
        assert transcript.lines == [
            (MessageRole.ASSISTANT, "Hello.", (), MessageSource.VOICE, False)
        ]

    # Cut in the second sentence, or between the first and the second: taken up from the second.
    @pytest.mark.parametrize("then_said", ["Seven is", ""])
    def test_a_line_cut_short_is_taken_up_from_the_sentence_it_was_cut_in(
        self, then_said: str
    ) -> None:
        lines = SpokenLines(uuid.uuid4(), Transcript())
        lines.plan(" ".join(ANSWER))
        lines.spoken(ANSWER[0])
        lines.spoken(then_said, interrupted=True)
        assert lines.take_unfinished() == " ".join(ANSWER[1:])
        assert lines.take_unfinished() is None  # taken once

    def test_a_line_cut_before_its_first_word_is_taken_up_whole(self) -> None:
        lines = SpokenLines(uuid.uuid4(), Transcript())
        lines.plan("Hello Ada! Ask me anything.")
        lines.plan(" ".join(ANSWER))
        lines.spoken("", interrupted=True)
        assert lines.take_unfinished() == " ".join(ANSWER)  # the last line, not the first

    def test_nothing_is_taken_up_after_a_line_spoken_whole_or_sent_as_text(self) -> None:
        lines = SpokenLines(uuid.uuid4(), Transcript())
        lines.plan(" ".join(ANSWER))
        lines.spoken(" ".join(ANSWER))
        assert lines.take_unfinished() is None
        lines.plan(" ".join(ANSWER))
        lines.plan("Your life path number is 7.", source=MessageSource.TEXT)
        assert lines.take_unfinished() is None

    def test_planned_lines_never_reported_are_bounded(self) -> None:
        lines = SpokenLines(uuid.uuid4(), Transcript())
        for n in range(MAX_PLANNED * 3):
            lines.plan(f"Line {n}.")
        assert lines.waiting == MAX_PLANNED


class Speaker(FrameProcessor):
    """The TTS and the output transport as the assistant aggregator sees them: each sentence's
    text after its audio went out. The user speaks over the bot after `speaks` sentences (an
    interruption); `None` lets the whole answer out."""

    def __init__(self, speaks: int | None) -> None:
        super().__init__()
        self._speaks = speaks
        self._spoken = 0

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame):
            if self._speaks is None or self._spoken < self._speaks:
                self._spoken += 1
                await self.push_frame(TTSTextFrame(frame.text, text_type=TextType.SENTENCE))
            elif self._spoken == self._speaks:
                self._spoken += 1
                # The user speaks a moment later (an interruption, a system frame, overtakes
                # the frames still queued ahead of it).
                await asyncio.sleep(0.05)
                await self.push_frame(InterruptionFrame())
            return
        await self.push_frame(frame, direction)


async def _answer_through_the_pipeline(
    speaks: int | None, page: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    transcript = Transcript()
    state = BotState(uuid.uuid4(), said=transcript)
    state.discussed.append(NumberKind.LIFE_PATH)
    lines = SpokenLines(state.conversation_id, state.said)
    aggregators = LLMContextAggregatorPair(LLMContext())
    report_spoken(aggregators.assistant(), lines)
    pipeline = Pipeline(
        [BotTranscriptSender(state, lines), Speaker(speaks), aggregators.assistant()]
    )
    frames = [
        LLMFullResponseStartFrame(),
        *(LLMTextFrame(sentence + " ") for sentence in ANSWER),
        LLMFullResponseEndFrame(),
    ]
    _, up = await run_test(pipeline, frames_to_send=frames)
    # What the page is told of a line cut short (the output transport, upstream, sends it).
    page.extend(f.message["data"] for f in up if isinstance(f, OutputTransportMessageUrgentFrame))
    return transcript.lines


async def test_a_spoken_line_goes_to_the_tts_as_a_reply_with_one_caption() -> None:
    state = BotState(uuid.uuid4(), said=Transcript())
    lines = SpokenLines(state.conversation_id, state.said)
    down, _ = await run_test(
        BotTranscriptSender(state, lines), frames_to_send=[TTSSpeakFrame(" ".join(ANSWER))]
    )
    # A reply's text is reported sentence by sentence as it is spoken; a TTSSpeakFrame's only
    # after all of its audio.
    replies = [
        f
        for f in down
        if isinstance(f, LLMFullResponseStartFrame | LLMTextFrame | LLMFullResponseEndFrame)
    ]
    assert [type(f) for f in replies] == [
        LLMFullResponseStartFrame,
        LLMTextFrame,
        LLMFullResponseEndFrame,
    ]
    assert replies[1].text == " ".join(ANSWER)
    assert not any(isinstance(f, TTSSpeakFrame) for f in down)
    captions = [f for f in down if isinstance(f, OutputTransportMessageUrgentFrame)]
    assert [c.message["data"] for c in captions] == [
        {"type": "transcript", "role": "bot", "text": " ".join(ANSWER), "id": "b1"}
    ]
    assert lines.waiting == 1


async def test_through_pipecat_an_answer_heard_whole_is_stored_whole() -> None:
    page: list[dict[str, Any]] = []
    assert await _answer_through_the_pipeline(None, page) == [
        (MessageRole.ASSISTANT, " ".join(ANSWER), ("life_path",), MessageSource.VOICE, False)
    ]
    assert page == []


async def test_through_pipecat_an_answer_the_user_cut_keeps_only_what_went_out() -> None:
    page: list[dict[str, Any]] = []
    assert await _answer_through_the_pipeline(1, page) == [
        (MessageRole.ASSISTANT, ANSWER[0], ("life_path",), MessageSource.VOICE, True)
    ]
    assert page == [
        {"type": "transcript", "role": "bot", "text": ANSWER[0], "id": "b1", "interrupted": True}
    ]


async def test_a_greeting_the_user_speaks_over_is_stored_as_far_as_it_went(
    client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    """A real call: the user asks a question two seconds into the greeting."""
    user, body, peer = await new_call(client, full_name="Ada Lovelace")
    try:
        deadline = time.monotonic() + 30
        while peer.speaking_events() == 0:
            assert time.monotonic() < deadline, "the bot never began its greeting"
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # "Hello Ada!" has been said, most of the greeting has not
        peer.mic.say(synthesise(models, "What is my life path number?"))
        await peer.utterance(time.monotonic(), within=30)  # the answer
    finally:
        await peer.close()
    conversation_id, token = body["conversation_id"], user["access_token"]

    lines: list[dict[str, Any]] = []

    async def stored() -> None:
        response = await client.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
        )
        lines[:] = response.json()["items"]
        assert [m["role"] for m in lines][-1:] == ["assistant"], lines
        assert len(lines) >= 3, lines  # the greeting, the question, the answer

    await eventually(stored, within=20)
    greeting, *_, answer = lines
    # The greeting as planned: the first transcript message the page got.
    full = next(
        m["data"]["text"]
        for m in peer.rtvi
        if m.get("type") == "server-message" and m["data"].get("role") == "bot"
    )
    assert greeting["interrupted"], lines
    # The page shows what was stored of it, in place.
    shown = [m for m in peer.messages if m.get("role") == "bot"][0]
    assert (shown["text"], shown["interrupted"]) == (greeting["text"], True)
    said = words(greeting["text"])
    assert 2 <= len(said) < len(words(full)), lines
    assert words(full)[: len(said)] == said, lines
    assert not answer["interrupted"], lines
    assert "life path" in answer["text"], lines
