"""The bot's RTVI processor: errors reach the client without their details; the bot's other
observers ride on its observer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from pipecat.frames.frames import (
    EndFrame,
    ErrorFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.filters.identity_filter import IdentityFilter
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.observer import RTVIObserver
from pipecat.tests.utils import run_test
from pipecat.workers.runner import WorkerRunner

from src.voice_pipeline.rtvi import FATAL_ERROR_MESSAGE, rtvi_processor

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

DETAIL = "connection to 10.0.0.7:5432 refused in /srv/app/db.py"


async def _messages_for(
    frame: ErrorFrame, vital: list[FrameProcessor] | None = None
) -> list[dict[str, Any]]:
    """The RTVI messages the processor sends the client when this error passes it."""
    down, _ = await run_test(
        rtvi_processor(uuid.uuid4(), vital=vital or []), frames_to_send=[frame]
    )
    return [
        f.message
        for f in down
        if isinstance(f, OutputTransportMessageUrgentFrame) and f.message.get("type") == "error"
    ]


async def test_a_fatal_error_reaches_the_client_as_one_plain_sentence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # pipecat's `fatal`, deprecated since 1.8: set as pipecat's own push_error sets it.
    fatal = ErrorFrame(error=DETAIL)
    fatal.fatal = True
    with caplog.at_level(logging.ERROR, logger="src.voice_pipeline.rtvi"):
        messages = await _messages_for(fatal)
    assert [m["data"] for m in messages] == [{"error": FATAL_ERROR_MESSAGE, "fatal": True}]
    assert DETAIL not in str(messages)
    # The detail is the operator's: it is in the server's log.
    assert any(DETAIL in r.getMessage() for r in caplog.records)


async def test_an_error_that_leaves_a_vital_processor_unusable_is_fatal() -> None:
    # pipecat 1.8+ marks a processor that can no longer work unusable (Deepgram refusing the
    # key) instead of its error fatal: for the bot's ears or voice, the call cannot go on.
    ears, other = FrameProcessor(), FrameProcessor()
    for processor in (ears, other):
        await processor.set_usable(False)
    told = await _messages_for(ErrorFrame(error=DETAIL, processor=ears), vital=[ears])
    assert [m["data"] for m in told] == [{"error": FATAL_ERROR_MESSAGE, "fatal": True}]
    # Another processor unusable (the LLM apologises for its failures), or a vital one still
    # usable (a failure it recovers from): logged, not sent.
    assert await _messages_for(ErrorFrame(error=DETAIL, processor=other), vital=[ears]) == []
    usable = FrameProcessor()
    assert await _messages_for(ErrorFrame(error=DETAIL, processor=usable), vital=[usable]) == []


async def test_a_non_fatal_error_is_logged_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="src.voice_pipeline.rtvi"):
        messages = await _messages_for(ErrorFrame(error="TTS context completed with no audio"))
    assert messages == []
    assert any("no audio" in r.getMessage() for r in caplog.records)


class Rider(BaseObserver):
    """An observer that records the frames it is told of."""

    def __init__(self, every_push: bool = False, fails: bool = False) -> None:
        super().__init__(observe_every_push=every_push)
        self.pushed: list[tuple[Any, bool]] = []  # (the frame, its first push)
        self.processed: list[Any] = []
        self.fails = fails

    async def on_push_frame(self, data: FramePushed) -> None:
        self.pushed.append((data.frame, data.first_push))
        if self.fails:
            raise RuntimeError("a rider's bug")

    async def on_process_frame(self, data: FrameProcessed) -> None:
        self.processed.append(data.frame)


def _pushed(frame: Any, first: bool) -> FramePushed:
    source = FrameProcessor()
    return FramePushed(
        source=source,
        destination=source,
        frame=frame,
        direction=FrameDirection.DOWNSTREAM,
        timestamp=0,
        first_push=first,
    )


async def test_the_riders_are_told_as_pipecat_tells_an_observer() -> None:
    once, every = Rider(), Rider(every_push=True)
    observer = rtvi_processor(uuid.uuid4(), [once, every]).create_rtvi_observer()
    assert isinstance(observer, RTVIObserver)  # pipecat adds no RTVI observer of its own
    frame = TextFrame("Hello")
    await observer.on_push_frame(_pushed(frame, first=True))
    await observer.on_push_frame(_pushed(frame, first=False))  # the next processor's push
    assert once.pushed == [(frame, True)]
    assert every.pushed == [(frame, True), (frame, False)]


async def test_a_failing_rider_is_left_out_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing, other = Rider(fails=True), Rider()
    observer = rtvi_processor(uuid.uuid4(), [failing, other]).create_rtvi_observer()
    with caplog.at_level(logging.ERROR, logger="src.voice_pipeline.rtvi"):
        for text in ("one", "two"):
            await observer.on_push_frame(_pushed(TextFrame(text), first=True))
    assert [f.text for f, _first in failing.pushed] == ["one"]
    assert [f.text for f, _first in other.pushed] == ["one", "two"]
    assert any("a rider's bug" in (r.exc_text or "") for r in caplog.records)


async def test_pipecats_worker_tells_the_riders_of_its_pipelines_frames() -> None:
    """The riders hang on pipecat calling `create_rtvi_observer` for the RTVI processor it is
    given: a pipecat that no longer does leaves the bot's speech untimed."""
    rider = Rider()
    worker = PipelineWorker(
        Pipeline([IdentityFilter()]),
        params=PipelineParams(),
        enable_rtvi=True,
        rtvi_processor=rtvi_processor(uuid.uuid4(), [rider]),
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: Any, _frame: Any) -> None:
        started.set()

    async def speak() -> None:
        # Processors drop the frames that come before the StartFrame.
        await asyncio.wait_for(started.wait(), 10)
        await worker.queue_frames([TextFrame("Hello"), EndFrame()])

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.wait_for(asyncio.gather(runner.run(), speak()), 10)
    texts = [f.text for f, _first in rider.pushed if isinstance(f, TextFrame)]
    assert "Hello" in texts
    assert all(first for _f, first in rider.pushed)
    assert rider.processed  # the frames each processor handled, too
