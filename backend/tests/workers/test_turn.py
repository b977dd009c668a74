"""The worker mode with STUN/TURN: the bot in a worker process takes ICE_SERVERS from its own
settings, the API hands the user TURN credentials, and a relay-only user hears the greeting."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from src.core.settings import Settings
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually, start
from tests.conftest import auth, make_settings, register
from tests.coturn import (
    TurnServer,
    assert_relayed,
    relay_only,
    relayed_greeting,
    turn_settings,
)
from tests.voice.conftest import models, transcribe  # noqa: F401  (the session fixture)
from tests.voice.peer import Peer, rms
from tests.workers.processes import WorkerProc

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def settings(clean_db: str, redis_url: str, prefix: str, turn_server: TurnServer) -> Settings:
    """The API in the worker mode, with ICE_SERVERS and TURN."""
    return make_settings(
        clean_db,
        redis_url=redis_url,
        redis_prefix=prefix,
        **turn_settings(turn_server),
    )


async def test_a_relay_only_user_hears_a_workers_bot_through_coturn(
    client: httpx.AsyncClient,
    ready_worker: Callable[..., Awaitable[WorkerProc]],
    turn_server: TurnServer,
    models: speech.SpeechModels,  # noqa: F811
) -> None:
    # The worker reads its settings from its environment, as in production.
    await ready_worker(ice_servers=json.dumps([{"urls": turn_server.stun_url}]))
    user = await register(client, full_name="Grace Hopper")
    started = await start(client, user["access_token"])
    assert started.status_code == 200, started.text
    body = started.json()
    room = body["daily_room_url"].rsplit("/", 1)[1]
    page = await client.get(f"/api/v1/rooms/{room}/ice-servers", headers=auth(body["daily_token"]))
    # The page renews the answer's servers; the TURN credential is made anew for each (its
    # expiry is a second later when the clock ticked in between), for the same conversation.
    renewed = page.json()["ice_servers"]
    assert renewed[:-1] == body["ice_servers"][:-1]
    turn_entry = body["ice_servers"][-1]
    assert renewed[-1]["urls"] == turn_entry["urls"]
    assert renewed[-1]["username"].split(":", 1)[1] == body["conversation_id"]
    peer = Peer(relay_only([turn_entry]))
    peer.start_pings()
    # The worker's bot uses its ICE_SERVERS: coturn's STUN tells it its address.
    greeting = await relayed_greeting(peer, client, body)
    assert rms(greeting) > 500
    heard = await transcribe(models, greeting)
    assert "grace" in heard.lower(), heard
    await eventually(lambda: assert_relayed(turn_server, turn_entry["username"]), within=20)
