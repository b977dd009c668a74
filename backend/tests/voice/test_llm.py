"""The LLM brain survives its server failing: a transient failure is retried once, any other
costs one short apology, and the next question is answered (pipecat's pipeline, no WebRTC)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    LLMContextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_response_universal import LLMAssistantAggregator
from pipecat.workers.runner import WorkerRunner

from src.core.settings import Settings
from src.numerology import life_path_number
from src.voice_pipeline import llm, services
from tests.fakes.openai import API_KEY, FakeOpenAI

pytestmark = pytest.mark.once
BIRTH = date(1987, 5, 6)
ANSWER = f"Your life path number is {life_path_number(BIRTH).value}. A fine number to live by."
QUESTION = "What is my life path number?"
TRANSIENT = ("429", "500", "503")
# Long enough for any answer of the fake on a loaded machine; a wait, not a bound asserted.
DEADLINE = 60.0


class Call:
    """One bot's LLM in a running pipeline, the conversation's context, and what the bot said
    (each turn's words, as the assistant's side of the context took them)."""

    def __init__(self, worker: PipelineWorker, context: Any) -> None:
        self.worker, self.context = worker, context
        self.said: list[str] = []
        self.turn_ended = asyncio.Event()

    async def on_turn_stopped(self, aggregator: Any, message: Any) -> None:
        if message.content:
            self.said.append(" ".join(message.content.split()))
            self.turn_ended.set()

    async def ask(self, question: str = QUESTION) -> str:
        """What the bot answers to `question`: its next words (after any tool call)."""
        before = len(self.said)
        self.context.add_message({"role": "user", "content": question})
        await self.worker.queue_frame(LLMContextFrame(self.context))
        async with asyncio.timeout(DEADLINE):
            while len(self.said) == before:
                self.turn_ended.clear()
                await self.turn_ended.wait()
        return self.said[before]


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(BIRTH.isoformat()).serve() as fake:
        yield fake


@asynccontextmanager
async def call(fake: FakeOpenAI) -> AsyncIterator[Call]:
    """A running pipeline: the bot's LLM (as `services.make_llm` builds it), then the assistant's
    side of the context, which hands tool results back to it."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        llm_base_url=fake.url,
        llm_api_key=API_KEY,
        llm_model="fake-model",
        llm_timeout_seconds=1.0,  # LLM_TIMEOUT_SECONDS: the "timeout" failure's hang ends in 1 s
    )
    brain = services.make_llm(settings, "You are a numerologist.")
    context = services.llm_context(with_tools=True)
    assistant = LLMAssistantAggregator(context)
    worker = PipelineWorker(Pipeline([brain, assistant]), cancel_on_idle_timeout=False)
    bot = Call(worker, context)
    assistant.event_handler("on_assistant_turn_stopped")(bot.on_turn_stopped)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(worker: PipelineWorker, frame: Frame) -> None:
        started.set()

    runner = WorkerRunner()
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(DEADLINE):
            await started.wait()
        yield bot
    finally:
        await worker.queue_frame(EndFrame())
        async with asyncio.timeout(DEADLINE):
            await running


async def test_an_answer_through_the_tool(fake_llm: FakeOpenAI) -> None:
    async with call(fake_llm) as bot:
        assert await bot.ask() == ANSWER
    assert fake_llm.tool_results[0]["number"] == life_path_number(BIRTH).value


async def test_a_reading_through_its_tool(fake_llm: FakeOpenAI) -> None:
    # The model sees the reading tools and calls one: 1987-05-06 has life path 5 + 6 + 25 -> 7
    # = 18 -> 9; the partner's 1966-05-09 5 + 9 + 22 = 36 -> 9: a mirror match.
    fake_llm.tool = "compatibility"
    fake_llm.tool_arguments = {"birth_date": BIRTH.isoformat(), "partner_birth_date": "1966-05-09"}
    async with call(fake_llm) as bot:
        answer = await bot.ask("My partner was born on May 9th 1966. Are we compatible?")
    assert answer.startswith("Your life paths are 9 and 9: a mirror match.")
    assert fake_llm.tool_results[0]["score"] == 80
    offered = {t["function"]["name"] for t in fake_llm.requests[0]["tools"]}
    assert {"compatibility", "personal_day_number", "number_meaning", "lucky_numbers"} <= offered


@pytest.mark.parametrize("failure", ["401", "429", "500", "503", "timeout", "bad_tool_args"])
async def test_a_failure_costs_one_apology_and_the_call_goes_on(
    fake_llm: FakeOpenAI, failure: str
) -> None:
    # A transient failure is retried once: it fails twice.
    fake_llm.fail_next(failure, times=2 if failure in TRANSIENT else 1)
    async with call(fake_llm) as bot:
        assert await bot.ask() == llm.APOLOGY
        assert await bot.ask() == ANSWER
    # No tool ran on arguments that were not JSON.
    assert len(fake_llm.tool_results) == 1


@pytest.mark.parametrize("failure", TRANSIENT)
async def test_a_transient_failure_is_retried_once(fake_llm: FakeOpenAI, failure: str) -> None:
    fake_llm.fail_next(failure)
    async with call(fake_llm) as bot:
        assert await bot.ask() == ANSWER
    # The failed request, its retry (the tool call), and the answer after the tool's result.
    assert len(fake_llm.requests) == 3


async def test_a_short_retry_after_is_waited_for_a_long_one_is_not(
    fake_llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    fake_llm.retry_after = 1.5
    fake_llm.fail_next("429")
    with caplog.at_level(logging.WARNING, logger=llm.__name__):
        async with call(fake_llm) as bot:
            assert await bot.ask() == ANSWER
            fake_llm.retry_after = 30
            fake_llm.fail_next("429")
            assert await bot.ask() == llm.APOLOGY
    retries = [r.getMessage() for r in caplog.records if "asking again" in r.getMessage()]
    assert retries == ["LLM: RateLimitError 429, asking again in 1.5 s"]
    # The 30 s one was not retried: two requests for the first answer's tool call, one
    # after the tool's result, and one refused.
    assert len(fake_llm.requests) == 4


async def test_a_stream_cut_midway_ends_in_an_apology(fake_llm: FakeOpenAI) -> None:
    fake_llm.fail_next("cut")
    async with call(fake_llm) as bot:
        # The words said before the cut, then the apology as a sentence of its own.
        assert await bot.ask() == f"Your life path ... {llm.APOLOGY}"
        assert await bot.ask() == ANSWER


async def test_the_recovery_after_a_wordless_cut_reaches_any_server_as_the_users_words(
    fake_llm: FakeOpenAI,
) -> None:
    """pipecat's empty-turn recovery (`turns.user_turns`) asks the LLM in a developer message,
    a role not every OpenAI-compatible server takes: it goes as a user message, and is
    answered."""
    from pipecat.turns.empty_user_turn import DEFAULT_EMPTY_USER_TURN_INTERRUPTED_PROMPT

    async with call(fake_llm) as bot:
        bot.context.add_message({"role": "user", "content": QUESTION})
        bot.context.add_message({"role": "assistant", "content": "Your life path"})
        before = len(bot.said)
        bot.context.add_message(
            {"role": "developer", "content": DEFAULT_EMPTY_USER_TURN_INTERRUPTED_PROMPT}
        )
        await bot.worker.queue_frame(LLMContextFrame(bot.context))
        async with asyncio.timeout(DEADLINE):
            while len(bot.said) == before:
                bot.turn_ended.clear()
                await bot.turn_ended.wait()
    sent = fake_llm.requests[0]["messages"]
    assert {"role": "user", "content": DEFAULT_EMPTY_USER_TURN_INTERRUPTED_PROMPT} in sent
    assert not [m for m in sent if m.get("role") == "developer"]
    assert bot.said[before] == ANSWER
