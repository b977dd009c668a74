"""A user who can only relay (behind a NAT or firewall that lets no direct path through) reaches
the real bot through a real TURN server, coturn, with the credentials of the start answer.

The user's aiortc peer is forced relay-only; the bot uses ICE_SERVERS (coturn's STUN here).
"""

from __future__ import annotations

import httpx
import pytest

from src.core.settings import Settings
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, start
from tests.conftest import make_settings, register
from tests.coturn import (
    TurnServer,
    assert_relayed,
    relay_only,
    relayed_greeting,
    turn_settings,
)
from tests.voice.conftest import transcribe
from tests.voice.peer import RATE, Peer, rms

pytestmark = pytest.mark.once


@pytest.fixture
def settings(clean_db: str, turn_server: TurnServer) -> Settings:
    return make_settings(
        clean_db,
        **turn_settings(turn_server),
    )


async def test_a_relay_only_user_hears_the_greeting_through_coturn(
    client: httpx.AsyncClient, models: speech.SpeechModels, turn_server: TurnServer
) -> None:
    user = await register(client, full_name="Sarah Connor")
    started = await start(client, user["access_token"])
    assert started.status_code == 200, started.text
    body = started.json()
    stun_entry, turn_entry = body["ice_servers"]
    assert stun_entry["urls"] == [turn_server.stun_url]
    assert turn_entry["username"].endswith(f":{body['conversation_id']}")
    peer = Peer(relay_only([turn_entry]))
    greeting = await relayed_greeting(peer, client, body)
    assert rms(greeting) > 500, "the greeting is silence"
    assert len(greeting) >= RATE, "the greeting is shorter than a second"
    heard = await transcribe(models, greeting)
    assert "sarah" in heard.lower(), heard

    # coturn's own account, once the allocation closes: the greeting came from the bot to its
    # relay address and on to the user (50 Opus packets a second; the greeting lasts seconds).
    await eventually(lambda: assert_relayed(turn_server, turn_entry["username"]), within=20)
