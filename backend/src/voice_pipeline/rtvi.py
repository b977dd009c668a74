"""pipecat's RTVI processor, telling clients of the bot's errors without their details.

pipecat sends every error frame to the client as an RTVI `error` message with the error's own
text: an exception's words, a service's reply, sometimes a path or an address. Non-fatal errors
(a TTS context that made no audio under load, say) mean nothing to the user, and they are
logged here instead; a fatal one reaches the client as one plain sentence. A typed question
(``send-text``) longer than `typed.MAX_TYPED_CHARS` is cut to that.
"""

from __future__ import annotations

import logging
import uuid

import pipecat.processors.frameworks.rtvi.models as rtvi_models
from pipecat.frames.frames import Frame, InputTransportMessageFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.processors.frameworks.rtvi.processor import RTVIProcessor
from pydantic import BaseModel

from src.voice_pipeline.typed import bounded_send_text

logger = logging.getLogger(__name__)

FATAL_ERROR_MESSAGE = "The voice bot stopped because of an error. Please start a new conversation."


class ClientSafeRTVIProcessor(RTVIProcessor):
    """RTVIProcessor whose error messages to the client carry no detail.

    Every message to the client passes `push_transport_message`: an error is caught there.

    Args:
        conversation_id: The bot's conversation, for the log.
    """

    def __init__(self, conversation_id: uuid.UUID) -> None:
        super().__init__()
        self.conversation_id = conversation_id

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """As RTVIProcessor, with a typed question (``send-text``) cut to MAX_TYPED_CHARS."""
        if isinstance(frame, InputTransportMessageFrame):
            bounded_send_text(frame.message)
        await super().process_frame(frame, direction)

    async def push_transport_message(self, model: BaseModel, exclude_none: bool = True) -> None:
        """Send `model` to the client; an error only as FATAL_ERROR_MESSAGE, and if fatal."""
        if isinstance(model, rtvi_models.Error):
            if not model.data.fatal:
                logger.warning(
                    "conversation %s: bot error (not sent to the client): %s",
                    self.conversation_id,
                    model.data.error,
                )
                return
            logger.error(
                "conversation %s: fatal bot error: %s", self.conversation_id, model.data.error
            )
            data = rtvi_models.ErrorData(error=FATAL_ERROR_MESSAGE, fatal=True)
            model = rtvi_models.Error(data=data)
        await super().push_transport_message(model, exclude_none)


def rtvi_processor(conversation_id: uuid.UUID) -> RTVIProcessor:
    """The RTVI processor for one bot's pipeline."""
    return ClientSafeRTVIProcessor(conversation_id)
