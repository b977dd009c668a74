"""Typed questions: what the page sends as RTVI ``send-text`` (`PipecatClient.sendText()`).

pipecat's RTVI processor turns a ``send-text`` into the user's turn (appended to the context,
answered at once by default) and, before and after it, an `LLMConfigureOutputFrame` that marks
the answer text-only when the client asked for ``audio_response: false``. An LLM service marks
its own output by that frame; `TypedTurns`, just after the brain, does it for the built-in
numerologist (which is no LLM service), stores the typed line as the user's with source
``text`` and shows it on the page, as a spoken one is.
"""

from __future__ import annotations

import logging
from typing import Any

from pipecat.frames.frames import (
    LLMConfigureOutputFrame,
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


class TypedTurns(FrameProcessor):
    """Records typed questions and marks text-only answers of the built-in brain.

    Args:
        state: The bot's state (where the lines go).
    """

    def __init__(self, state: BotState) -> None:
        super().__init__()
        self._state = state
        self._skip_tts: bool | None = None

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
        elif isinstance(frame, LLMConfigureOutputFrame):
            self._skip_tts = frame.skip_tts
        elif (
            isinstance(frame, LLMFullResponseStartFrame | LLMTextFrame | LLMFullResponseEndFrame)
            and self._skip_tts is not None
        ):
            frame.skip_tts = self._skip_tts
        await self.push_frame(frame, direction)


def bounded_send_text(message: Any) -> None:
    """Cut a ``send-text`` message's content to MAX_TYPED_CHARS, in place."""
    if not isinstance(message, dict) or message.get("type") != "send-text":
        return
    data = message.get("data")
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        data["content"] = data["content"][:MAX_TYPED_CHARS]
