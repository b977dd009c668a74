"""The bot's RTVI processor: errors reach the client without their details."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from pipecat.frames.frames import ErrorFrame, OutputTransportMessageUrgentFrame
from pipecat.tests.utils import run_test

from src.voice_pipeline.rtvi import FATAL_ERROR_MESSAGE, rtvi_processor

# No database here: the SQLite pass is enough.
pytestmark = pytest.mark.once

DETAIL = "connection to 10.0.0.7:5432 refused in /srv/app/db.py"


async def _messages_for(frame: ErrorFrame) -> list[dict[str, Any]]:
    """The RTVI messages the processor sends the client when this error passes it."""
    down, _ = await run_test(rtvi_processor(uuid.uuid4()), frames_to_send=[frame])
    return [
        f.message
        for f in down
        if isinstance(f, OutputTransportMessageUrgentFrame) and f.message.get("type") == "error"
    ]


async def test_a_fatal_error_reaches_the_client_as_one_plain_sentence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="src.voice_pipeline.rtvi"):
        messages = await _messages_for(ErrorFrame(error=DETAIL, fatal=True))
    assert [m["data"] for m in messages] == [{"error": FATAL_ERROR_MESSAGE, "fatal": True}]
    assert DETAIL not in str(messages)
    # The detail is the operator's: it is in the server's log.
    assert any(DETAIL in r.getMessage() for r in caplog.records)


async def test_a_non_fatal_error_is_logged_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="src.voice_pipeline.rtvi"):
        messages = await _messages_for(ErrorFrame(error="TTS context completed with no audio"))
    assert messages == []
    assert any("no audio" in r.getMessage() for r in caplog.records)
