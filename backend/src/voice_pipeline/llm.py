"""The bot's LLM (any OpenAI-compatible server): a failure costs one short apology, not the call.

pipecat's `OpenAILLMService` reports a failed completion as an error frame and says nothing,
so the user would hear silence; the OpenAI client behind it waits up to 10 minutes for an
answer and honours a `Retry-After` of up to two minutes. Here:
- A rate limit (429), a server error (5xx) or a failed connection is retried once, at once or
  after the server's `Retry-After` when that is short (RETRY_WAIT_LIMIT_SECONDS); a longer
  wait is not made on a live call.
- No byte from the server for TIMEOUT_SECONDS (before or during the answer) is a failure.
- Whatever fails (after the retry), and a tool call whose arguments are not JSON (pipecat
  drops it, leaving the turn unanswered), the bot says APOLOGY and listens again: the next
  question is asked afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import openai
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    FunctionCallFromLLM,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.openai.llm import OpenAILLMService

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, I lost my train of thought. Could you ask me that again?"
TIMEOUT_SECONDS = 10.0
RETRY_WAIT_LIMIT_SECONDS = 2.0
# Without a Retry-After: the wait before the one retry.
RETRY_WAIT_SECONDS = 0.5
_RETRIED = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
_SENTENCE_ENDS = (".", "!", "?")


class ApologeticLLMService(OpenAILLMService):
    """OpenAILLMService that retries a transient failure once and apologises for any other.

    Args:
        timeout_secs: The longest wait for a byte from the server (TIMEOUT_SECONDS).
        **kwargs: Passed on to `OpenAILLMService`.
    """

    # Any OpenAI-compatible server takes a user message; not all take the "developer" role
    # (Ollama, Cerebras, some vLLM chat templates), in which pipecat's empty-turn recovery
    # speaks (`turns.user_turns`): sent as the user's, it is never refused with a 400.
    supports_developer_role = False

    def __init__(self, *, timeout_secs: float | None = None, **kwargs: Any) -> None:
        # Read by `create_client`, which pipecat's __init__ calls.
        self.timeout_secs = TIMEOUT_SECONDS if timeout_secs is None else timeout_secs
        super().__init__(**kwargs)
        self._failed = False
        self._said = ""

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        """pipecat's client, with our time limit and no retries of its own."""
        client = super().create_client(*args, **kwargs)  # type: ignore[no-untyped-call]
        return client.with_options(timeout=self.timeout_secs, max_retries=0)

    async def get_chat_completions(self, context: Any) -> Any:
        """The completion's stream, asked for a second time after a transient failure."""
        try:
            return await super().get_chat_completions(context)
        except _RETRIED as exc:
            if isinstance(exc, openai.APITimeoutError):
                raise  # the user has waited TIMEOUT_SECONDS already
            wait = _retry_after(exc)
            if wait is None or wait > RETRY_WAIT_LIMIT_SECONDS:
                raise
            logger.warning("LLM: %s, asking again in %.1f s", _describe(exc), wait)
            await asyncio.sleep(wait)
            return await super().get_chat_completions(context)

    async def run_function_calls(self, function_calls: Sequence[FunctionCallFromLLM]) -> None:
        """Run the model's tool calls; none left (pipecat drops unreadable ones) is a failure."""
        if not function_calls:
            logger.warning("LLM: the model called a tool with arguments that are not JSON")
            self._failed = True
        await super().run_function_calls(function_calls)

    async def push_error_frame(
        self, error: ErrorFrame, force_treat_as_permanent: bool = False
    ) -> None:
        """Report the error (upstream, as pipecat does); the response ends with an apology."""
        self._failed = True
        await super().push_error_frame(error, force_treat_as_permanent)

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        """Push `frame`, saying APOLOGY before the end of a response that failed."""
        if isinstance(frame, LLMFullResponseStartFrame):
            self._failed, self._said = False, ""
        elif isinstance(frame, LLMTextFrame):
            self._said += frame.text
        elif isinstance(frame, LLMFullResponseEndFrame) and self._failed:
            self._failed = False
            # After a few words of a cut answer, the apology is a sentence of its own.
            said = self._said.rstrip()
            gap = "... " if said and not said.endswith(_SENTENCE_ENDS) else " " if said else ""
            await super().push_frame(LLMTextFrame(gap + APOLOGY))
        await super().push_frame(frame, direction)


def _retry_after(exc: Exception) -> float | None:
    """The wait before a retry: the server's Retry-After (seconds), else RETRY_WAIT_SECONDS."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header is None:
        return RETRY_WAIT_SECONDS
    try:
        return max(0.0, float(header))
    except ValueError:
        return None  # an HTTP date: not worth parsing for a wait we would not make anyway


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__
