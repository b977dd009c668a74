"""Typed questions without WebRTC (issue 23): an RTVI ``send-text`` through pipecat's RTVI
processor, the user aggregator, either brain, `TypedTurns` and the bot's transcript sender, in a
real pipeline. The page's text box is tested in Chromium (test_browser.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputTransportMessageFrame,
    LLMMessagesAppendFrame,
    LLMTextFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from src.core.enums import MessageRole, MessageSource
from src.core.settings import Settings
from src.numerology import life_path_number
from src.voice_pipeline import rtvi, services
from src.voice_pipeline.dialogue import Numerologist
from src.voice_pipeline.numerologist import BotState, BotTranscriptSender, NumerologistProcessor
from src.voice_pipeline.spoken import SpokenLines
from src.voice_pipeline.typed import MAX_TYPED_CHARS, TypedTurns, bounded_send_text
from tests.fakes.openai import API_KEY, FakeOpenAI

pytestmark = pytest.mark.once
BIRTH = date(1987, 5, 6)
QUESTION = "What is my life path number?"
DEADLINE = 30.0


def _send_text(content: str, *, audio: bool) -> dict[str, Any]:
    """What the room page (and `PipecatClient.sendText()`) sends for a typed question."""
    return {
        "label": "rtvi-ai",
        "type": "send-text",
        "id": "typed-1",
        "data": {"content": content, "options": {"run_immediately": True, "audio_response": audio}},
    }


def test_a_typed_question_is_cut_to_the_text_box_s_length() -> None:
    message = _send_text("x" * (MAX_TYPED_CHARS + 50), audio=True)
    bounded_send_text(message)
    assert message["data"]["content"] == "x" * MAX_TYPED_CHARS
    for other in ({"type": "client-ready", "data": {"content": "y" * 900}}, {"type": "send-text"}):
        before = repr(other)
        bounded_send_text(other)  # not a send-text, or no content: left as it is
        assert repr(other) == before
    bounded_send_text("not a message")  # nothing to cut, no error


class _Seen(FrameProcessor):
    """The pipeline's end: what reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames.append(frame)
        await self.push_frame(frame, direction)


class _Bot:
    """A bot's pipeline from the RTVI processor to the bot's transcript sender, and its lines."""

    def __init__(self, brain: FrameProcessor, context: LLMContext, state: BotState) -> None:
        self.state = state
        self.lines: list[tuple[Any, ...]] = []
        self.seen = _Seen()
        aggregators = LLMContextAggregatorPair(context)
        typed = TypedTurns(state)
        self.worker = PipelineWorker(
            Pipeline(
                [
                    aggregators.user(),
                    typed.questions,
                    brain,
                    typed,
                    BotTranscriptSender(state, SpokenLines(state.conversation_id, state.said)),
                    self.seen,
                    aggregators.assistant(),
                ]
            ),
            params=PipelineParams(),
            enable_rtvi=True,
            rtvi_processor=rtvi.rtvi_processor(state.conversation_id),
            cancel_on_idle_timeout=False,
            idle_timeout_secs=None,
        )

    async def type(self, text: str, *, audio: bool) -> list[LLMTextFrame]:
        """Type `text`; the answer's text frames, once some have come."""
        message = _send_text(text, audio=audio)
        return await self._answer(InputTransportMessageFrame(message=message))

    async def say(self, text: str) -> list[LLMTextFrame]:
        """A question as a spoken turn reaches the brain (the user aggregator runs it, with no
        configure frame around it); the answer's text frames."""
        user = {"role": "user", "content": text}
        return await self._answer(LLMMessagesAppendFrame(messages=[user], run_llm=True))

    async def _answer(self, frame: Frame) -> list[LLMTextFrame]:
        before = len(self.seen.frames)
        await self.worker.queue_frame(frame)
        async with asyncio.timeout(DEADLINE):
            while True:
                answer = [f for f in self.seen.frames[before:] if isinstance(f, LLMTextFrame)]
                if answer:
                    await asyncio.sleep(0.2)  # the rest of the answer's frames
                    return [f for f in self.seen.frames[before:] if isinstance(f, LLMTextFrame)]
                await asyncio.sleep(0.02)

    def page_messages(self) -> list[dict[str, Any]]:
        return [
            f.message["data"]
            for f in self.seen.frames
            if isinstance(f, OutputTransportMessageUrgentFrame)
            and isinstance(f.message, dict)
            and f.message.get("type") == "server-message"
        ]


@asynccontextmanager
async def _bot(brain_name: str) -> AsyncIterator[_Bot]:
    lines: list[tuple[Any, ...]] = []
    state = BotState(uuid.uuid4(), said=lambda *line: lines.append(line))
    async with _fake_llm(brain_name) as fake:
        if fake is None:
            brain: FrameProcessor = NumerologistProcessor(
                Numerologist("Ada Lovelace", "Ada", BIRTH), state
            )
            context = services.llm_context(with_tools=False)
        else:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, llm_base_url=fake.url, llm_api_key=API_KEY, llm_model="fake"
            )
            brain = services.make_llm(settings, "You are a numerologist.", state.discussed.append)
            context = services.llm_context(with_tools=True)
        bot = _Bot(brain, context, state)
        bot.lines = lines
        runner = WorkerRunner()
        await runner.add_workers(bot.worker)
        running = asyncio.create_task(runner.run())
        try:
            yield bot
        finally:
            await bot.worker.queue_frame(EndFrame())
            async with asyncio.timeout(DEADLINE):
                await running


@asynccontextmanager
async def _fake_llm(brain_name: str) -> AsyncIterator[FakeOpenAI | None]:
    """The LLM's server for the "llm" brain (None for the built-in one)."""
    if brain_name == "builtin":
        yield None
        return
    async with FakeOpenAI(BIRTH.isoformat()).serve() as fake:
        yield fake


@pytest.mark.parametrize("brain", ["builtin", "llm"])
async def test_a_typed_question_is_answered_in_text_only_and_stored_as_typed(brain: str) -> None:
    number = life_path_number(BIRTH).value
    async with _bot(brain) as bot:
        answer = await bot.type(f"  {QUESTION} ", audio=False)
        spoken = await bot.say(QUESTION)  # then the user speaks: answered aloud again
        await asyncio.sleep(0.3)
    assert spoken
    assert not any(f.skip_tts for f in spoken)
    text = "".join(f.text for f in answer)
    assert f"{number}" in text, text
    # Text only: the TTS skips every part of the answer.
    assert all(f.skip_tts for f in answer), [(f.text, f.skip_tts) for f in answer]
    # The typed line is the user's, with its source, stripped; and shown on the page.
    assert bot.lines[0][:4] == (MessageRole.USER, QUESTION, (), MessageSource.TEXT)
    shown = bot.page_messages()
    assert {"type": "transcript", "role": "user", "text": QUESTION} in [
        {k: m.get(k) for k in ("type", "role", "text")} for m in shown
    ]
    assert any(m.get("role") == "bot" and f"{number}" in m.get("text", "") for m in shown)


async def test_a_typed_question_asked_for_a_voice_answer_is_spoken() -> None:
    async with _bot("builtin") as bot:
        answer = await bot.type(QUESTION, audio=True)
        # The next one text only, then by voice again: each answer as its own question asked.
        quiet = await bot.type(QUESTION, audio=False)
        spoken = await bot.type(QUESTION, audio=True)
    assert answer
    assert not any(f.skip_tts for f in answer)
    assert quiet
    assert all(f.skip_tts for f in quiet)
    assert spoken
    assert not any(f.skip_tts for f in spoken)
    assert [line[3] for line in bot.lines if line[0] == MessageRole.USER] == [
        MessageSource.TEXT
    ] * 3


async def test_an_empty_typed_question_is_not_stored() -> None:
    async with _bot("builtin") as bot:
        before = len(bot.seen.frames)
        await bot.worker.queue_frame(
            InputTransportMessageFrame(message=_send_text("   ", audio=False))
        )
        await asyncio.sleep(0.5)
    assert not [line for line in bot.lines if line[0] == MessageRole.USER]
    assert not [m for m in bot.page_messages() if m.get("role") == "user"], bot.seen.frames[before:]
