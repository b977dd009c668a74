"""pipecat's RTVI processor, telling clients of the bot's errors without their details.

pipecat sends every error frame to the client as an RTVI `error` message with the error's own
text: an exception's words, a service's reply, sometimes a path or an address. Non-fatal errors
(a TTS context that made no audio under load, say) mean nothing to the user, and they are
logged here instead; a fatal one reaches the client as one plain sentence.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

logger = logging.getLogger(__name__)

FATAL_ERROR_MESSAGE = "The voice bot stopped because of an error. Please start a new conversation."


def rtvi_processor(conversation_id: uuid.UUID) -> Any:
    """The RTVI processor for one bot's pipeline."""
    import pipecat.processors.frameworks.rtvi.models as rtvi_models
    from pipecat.frames.frames import ErrorFrame
    from pipecat.processors.frameworks.rtvi.processor import RTVIProcessor

    class ClientSafeRTVIProcessor(RTVIProcessor):
        async def _send_error_frame(self, frame: ErrorFrame) -> None:
            if not frame.fatal:
                logger.warning(
                    "conversation %s: bot error (not sent to the client): %s",
                    conversation_id,
                    frame.error,
                )
                return
            logger.error("conversation %s: fatal bot error: %s", conversation_id, frame.error)
            data = rtvi_models.ErrorData(error=FATAL_ERROR_MESSAGE, fatal=True)
            await self.push_transport_message(rtvi_models.Error(data=data))

    return ClientSafeRTVIProcessor()
