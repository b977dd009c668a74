"""Typed questions: what the page sends as RTVI ``send-text`` (`PipecatClient.sendText()`).

pipecat's RTVI processor turns a ``send-text`` into the user's turn (appended to the context,
answered at once by default) and, before and after it, an `LLMConfigureOutputFrame` that marks
the answer text-only when the client asked for ``audio_response: false``. Those frames go down
the pipeline one after the other, at once, and the answer does not keep their order: the
built-in numerologist answers before the typed line's own frame has passed it, and an LLM that
called a tool answers after the second configure frame (speak again) has reached it (its
answer is a second completion, on the tool's result): it spoke the answer to a text-only
question. So each question's output is read where the question enters the brain
(`TypedTurns.questions`, just before it: the configure frame in force when the question's
context frame passes) and given to every response after it, until the next question
(`TypedTurns`, just after the brain), with either brain. `TypedTurns` also stores the typed line
as the user's with source ``text`` and shows it on the page, as a spoken one is.
"""

from __future__ import annotations

import logging
from typing import Any

from pipecat.frames.frames import (
    LLMConfigureOutputFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVISendTextFrame

from src.core.enums import MessageRole, MessageSource
from src.voice_pipeline.numerologist import BotState
from src.voice_pipeline.spoken import transcript_message

logger = logging.getLogger(__name__)

# The longest typed question taken (the page's text box holds as many); longer is cut.
MAX_TYPED_CHARS = 500


class _Questions(FrameProcessor):
    """Before the brain: notes whether the answer to each question (each context frame going
    down to the brain) goes as text only."""

    def __init__(self, typed: TypedTurns) -> None:
        super().__init__()
        self._typed = typed
        self._skip_tts = False  # as the last LLMConfigureOutputFrame said

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMConfigureOutputFrame):
            self._skip_tts = bool(frame.skip_tts)
        elif isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            self._typed.text_only = self._skip_tts
        await self.push_frame(frame, direction)


class TypedTurns(FrameProcessor):
    """Records typed questions and gives the brain's answers the output their question asked
    for; `questions` goes just before the brain.

    Args:
        state: The bot's state (where the lines go).
    """

    def __init__(self, state: BotState) -> None:
        super().__init__()
        self._state = state
        self.text_only = False  # the answers to the question the brain took last
        self.questions = _Questions(self)

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, RTVISendTextFrame):
            text = frame.text.strip()
            if text:
                logger.info(
                    "conversation %s: the user typed a question", self._state.conversation_id
                )
                self._state.said(MessageRole.USER, text, (), MessageSource.TEXT)
                await self.push_frame(transcript_message("user", text))
        elif isinstance(frame, LLMFullResponseStartFrame | LLMTextFrame | LLMFullResponseEndFrame):
            frame.skip_tts = self.text_only
        await self.push_frame(frame, direction)


def bounded_send_text(message: Any) -> None:
    """Cut a ``send-text`` message's content to MAX_TYPED_CHARS, in place."""
    if not isinstance(message, dict) or message.get("type") != "send-text":
        return
    data = message.get("data")
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        data["content"] = data["content"][:MAX_TYPED_CHARS]
