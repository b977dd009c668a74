"""pipecat's RTVI processor, telling clients of the bot's errors without their details.

pipecat sends every error frame to the client as an RTVI `error` message with the error's own
text: an exception's words, a service's reply, sometimes a path or an address. Non-fatal errors
(a TTS context that made no audio under load, say) mean nothing to the user, and they are
logged here instead; a fatal one reaches the client as one plain sentence. An error is fatal
when it says so (pipecat's `fatal`, deprecated since 1.8, which no pipecat 1.14 service sets)
or when it leaves one of the bot's vital processors, its ears or its voice, unable to work:
pipecat 1.8+ marks such a processor unusable instead (Deepgram after its key is refused, or
after its connection failed too often), and it then takes no more work, so the call cannot go
on (`ends_the_call`; the bot ends it). A typed question (``send-text``) longer than
`typed.MAX_TYPED_CHARS` is cut to that.

The bot's other observers (the speech timings) ride on the RTVI observer pipecat makes from
this processor: pipecat gives each observer a queue and a task of its own, through which every
frame every processor pushes passes, so each observer more is a queue put, a get and a task
wake-up per frame (the two took 8.5 % of a worker's CPU in a burst of calls: bench/README.md,
"Where `make bench`'s time has to go").
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import pipecat.processors.frameworks.rtvi.models as rtvi_models
from pipecat.frames.frames import ErrorFrame, Frame, InputTransportMessageFrame
from pipecat.observers.base_observer import (
    BaseObserver,
    FrameProcessed,
    FramePushed,
    ProcessorSetUp,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.observer import RTVIObserver, RTVIObserverParams
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
        riders: Observers told of the pipeline's frames by the RTVI observer, not each through
            a queue of its own.
        vital: The processors the call cannot go on without (the speech recogniser and
            synthesiser): an error that leaves one of them unusable is fatal.
    """

    def __init__(
        self,
        conversation_id: uuid.UUID,
        riders: Sequence[BaseObserver] = (),
        vital: Sequence[FrameProcessor] = (),
    ) -> None:
        super().__init__()
        self.conversation_id = conversation_id
        self.riders = list(riders)
        self.vital = list(vital)
        self._fatal: str | None = None  # the error being sent, when it is fatal
        # The page said client-ready: its data channel is open, what is sent reaches it.
        self.client_ready = asyncio.Event()

    async def set_client_ready(self) -> None:
        """As RTVIProcessor, and `client_ready` set."""
        await super().set_client_ready()  # type: ignore[no-untyped-call]
        self.client_ready.set()

    def ends_the_call(self, frame: ErrorFrame) -> bool:
        """Whether this error ends the call: marked fatal, or a vital processor unusable."""
        unusable = frame.processor is not None and not frame.processor.is_usable
        return bool(frame.fatal) or (unusable and frame.processor in self.vital)

    def create_rtvi_observer(
        self, *, params: RTVIObserverParams | None = None, **kwargs: Any
    ) -> RTVIObserver:
        """pipecat's RTVI observer for this processor, carrying the riders."""
        return RidingRTVIObserver(self, params=params, riders=self.riders, **kwargs)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """As RTVIProcessor, with a typed question (``send-text``) cut to MAX_TYPED_CHARS."""
        if isinstance(frame, InputTransportMessageFrame):
            bounded_send_text(frame.message)
        if isinstance(frame, ErrorFrame) and self.ends_the_call(frame):
            # pipecat sends it on as an RTVI error with `fatal` as the frame has it.
            self._fatal = frame.error
            try:
                await super().process_frame(frame, direction)
            finally:
                self._fatal = None
            return
        await super().process_frame(frame, direction)

    async def push_transport_message(self, model: BaseModel, exclude_none: bool = True) -> None:
        """Send `model` to the client; an error only as FATAL_ERROR_MESSAGE, and if fatal."""
        if isinstance(model, rtvi_models.Error):
            if not (model.data.fatal or model.data.error == self._fatal):
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


class RidingRTVIObserver(RTVIObserver):
    """pipecat's RTVI observer, handing each frame to its riders too, as pipecat's worker
    would (a frame's repeated pushes only to those that observe every push). A rider that
    fails is logged and left out from then on; the RTVI messages go on.

    Args:
        rtvi: The RTVI processor.
        params: The RTVI observer's settings.
        riders: The other observers.
    """

    def __init__(
        self,
        rtvi: RTVIProcessor,
        *,
        params: RTVIObserverParams | None = None,
        riders: Sequence[BaseObserver] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(rtvi, params=params, **kwargs)
        self.riders = list(riders)

    async def setup(self, task_manager: Any) -> None:
        await super().setup(task_manager)
        for rider in self.riders:
            await rider.setup(task_manager)

    async def cleanup(self) -> None:
        for rider in self.riders:
            await rider.cleanup()  # type: ignore[no-untyped-call]
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def on_push_frame(self, data: FramePushed) -> None:
        for rider in list(self.riders):
            if data.first_push or rider.observe_every_push:
                await self._told(rider, rider.on_push_frame(data))
        await super().on_push_frame(data)

    async def on_process_frame(self, data: FrameProcessed) -> None:
        for rider in list(self.riders):
            await self._told(rider, rider.on_process_frame(data))
        await super().on_process_frame(data)

    async def on_processor_setup(self, data: ProcessorSetUp) -> None:
        for rider in list(self.riders):
            await self._told(rider, rider.on_processor_setup(data))
        await super().on_processor_setup(data)

    async def on_pipeline_started(self) -> None:
        for rider in list(self.riders):
            await self._told(rider, rider.on_pipeline_started())  # type: ignore[no-untyped-call]
        await super().on_pipeline_started()  # type: ignore[no-untyped-call]

    async def _told(self, rider: BaseObserver, told: Any) -> None:
        try:
            await told
        except Exception:
            logger.exception("observer %s failed; it is told of no more frames", rider)
            self.riders.remove(rider)


def rtvi_processor(
    conversation_id: uuid.UUID,
    riders: Sequence[BaseObserver] = (),
    vital: Sequence[FrameProcessor] = (),
) -> ClientSafeRTVIProcessor:
    """The RTVI processor for one bot's pipeline; `riders`: its other observers; `vital`: the
    processors the call cannot go on without."""
    return ClientSafeRTVIProcessor(conversation_id, riders, vital)
