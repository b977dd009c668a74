"""A bot that can no longer hear ends its call: Deepgram refuses the key (a fake that answers
as Deepgram does, through our real client code), pipecat marks the recogniser unusable, and the
page gets one plain sentence, the conversation ends `bot_error` and the bot is gone, instead of
a bot that never answers until the user hangs up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from src.core.settings import Settings
from src.voice_pipeline.rtvi import FATAL_ERROR_MESSAGE
from tests.api.conversation_helpers import eventually, no_bots_left, row
from tests.conftest import make_settings
from tests.fakes.deepgram import RefusingDeepgram
from tests.voice.calls import new_call

pytestmark = pytest.mark.once

KEY = "revoked-deepgram-key"


@pytest.fixture
async def deepgram() -> AsyncIterator[RefusingDeepgram]:
    async with RefusingDeepgram().serve() as fake:
        yield fake


@pytest.fixture
def settings(clean_db: str, deepgram: RefusingDeepgram) -> Settings:
    return make_settings(
        clean_db, stt_provider="deepgram", deepgram_api_key=KEY, deepgram_url=deepgram.url
    )


async def test_a_recogniser_that_can_no_longer_work_ends_the_call_in_one_plain_sentence(
    app: FastAPI,
    client: httpx.AsyncClient,
    deepgram: RefusingDeepgram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    _user, body, peer = await new_call(client)
    # The page says client-ready once its data channel opens, as the room page does.
    await eventually(lambda: _open(peer.channel.readyState), within=10)
    peer.send_rtvi("client-ready", {"version": "2.1.0", "about": {"library": "test"}})

    async def ended() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.end_reason) == ("failed", "bot_error")

    try:
        await eventually(ended, within=30)
        await eventually(lambda: _told(peer.rtvi_of("error")), within=10)
    finally:
        await peer.close()
    assert deepgram.handshakes, "the recogniser never asked Deepgram"
    assert all(path.startswith("/v1/listen") for path in deepgram.handshakes)
    # Told once, without the provider's words; the operator's log has them, not the key.
    assert [m["data"] for m in peer.rtvi_of("error")] == [
        {"error": FATAL_ERROR_MESSAGE, "fatal": True}
    ]
    assert "can no longer hear or speak" in caplog.text
    assert KEY not in caplog.text
    await no_bots_left(app)


def _open(state: str) -> None:
    assert state == "open", state


async def _told(errors: list[dict[str, object]]) -> None:
    assert errors, "no error message reached the page"
