"""A bot that can no longer hear ends its call: Deepgram refuses the key (a fake that answers
as Deepgram does, through our real client code), pipecat marks the recogniser unusable, and the
page gets one plain sentence, the conversation ends `bot_error` and the bot is gone, instead of
a bot that never answers until the user hangs up. The worker mode's twin is in
tests/workers/test_unable_bot.py."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from tests.api.conversation_helpers import no_bots_left
from tests.conftest import make_settings
from tests.fakes.deepgram import (
    REFUSED_KEY,
    RefusingDeepgram,
    refused_settings,
    refusing_deepgram,  # noqa: F401  (the fixture)
)
from tests.voice.calls import a_call_the_bot_cannot_hear

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str, refusing_deepgram: RefusingDeepgram) -> Settings:  # noqa: F811
    return make_settings(clean_db, **refused_settings(refusing_deepgram))


async def test_a_recogniser_that_can_no_longer_work_ends_the_call_in_one_plain_sentence(
    app: FastAPI,
    client: httpx.AsyncClient,
    refusing_deepgram: RefusingDeepgram,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    await a_call_the_bot_cannot_hear(app, client)
    assert refusing_deepgram.handshakes, "the recogniser never asked Deepgram"
    assert all(path.startswith("/v1/listen") for path in refusing_deepgram.handshakes)
    # The operator's log says why, without the key.
    assert "can no longer hear or speak" in caplog.text
    assert REFUSED_KEY not in caplog.text
    await no_bots_left(app)
