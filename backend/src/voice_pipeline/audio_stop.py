"""The bot pipeline's stop for the user's audio frames, once nothing further needs them."""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class UserAudioStop(FrameProcessor):
    """Lets the user's audio frames go no further: placed after the last processor that needs
    them (the user aggregator, with the VAD and turn analyser).

    pipecat passes every input audio frame (50 a second, silence included) on to the end of the
    pipeline, each hop through a processor's queue and task; past the user aggregator nothing
    reads them. Direct mode: it runs in the pushing processor's task, adding no hop of its own;
    and an audio frame it drops is not reported to the pipeline's observers as processed (each
    report is a queue put and a task wake-up per observer, for a frame nothing reads).
    """

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioRawFrame):
            return
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
