"""The client SDK's signalling and RTVI through a worker process (README "Room protocol").

The API forwards the SDK's offer body (pc_id, restart_pc, requestData), its ICE PATCHes and a
renegotiation to the worker that runs the bot; the bot answers RTVI's client-ready with
bot-ready and sends its speaking events and transcript lines over the data channel.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pipecat.processors.frameworks.rtvi.models import PROTOCOL_VERSION

from tests.api.conversation_helpers import eventually, row, start
from tests.conftest import auth, register
from tests.voice.conftest import models  # noqa: F401  (the session fixture)
from tests.voice.peer import Peer, rms
from tests.workers.test_calls import ReadyWorker

pytestmark = pytest.mark.postgresql_only


def _sent(peer: Peer, kind: str) -> None:
    assert peer.rtvi_of(kind), [m.get("type") for m in peer.rtvi]


def _open(peer: Peer) -> None:
    assert peer.channel.readyState == "open"


async def test_the_sdk_s_signalling_and_rtvi_cross_to_the_worker(
    app: FastAPI, client: httpx.AsyncClient, ready_worker: ReadyWorker
) -> None:
    worker = await ready_worker()
    user = await register(client, full_name="Ada Lovelace")
    started: dict[str, Any] = (await start(client, user["access_token"])).json()
    room_url, token = started["daily_room_url"], started["daily_token"]
    peer = Peer()
    peer.start_pings()
    try:
        answer = await peer.connect_as_sdk(client, room_url, token)
        candidate = {
            "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50312 typ host generation 0",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        }
        patched = await client.patch(
            room_url,
            json={"pc_id": answer["pc_id"], "candidates": [candidate]},
            headers=auth(token),
        )
        assert patched.status_code == 204, patched.text
        await eventually(lambda: _open(peer), within=10)
        peer.send_rtvi("client-ready", {"version": "2.1.0", "about": {"library": "test"}}, "r1")
        greeting = await peer.utterance(peer.offer_sent_at)
        await eventually(lambda: _sent(peer, "bot-ready"), within=10)
        await eventually(lambda: _sent(peer, "bot-started-speaking"), within=10)
        # A renegotiation names its connection: pc_id reaches the worker's room.
        again = await peer.connect_as_sdk(client, room_url, token, pc_id=answer["pc_id"])
        stored = await row(app, started["conversation_id"])
    finally:
        await peer.close()
    print("\nRTVI from the worker's bot:", sorted({m.get("type", "?") for m in peer.rtvi}))
    (ready,) = peer.rtvi_of("bot-ready")
    assert (ready["id"], ready["data"]["version"]) == ("r1", PROTOCOL_VERSION)
    assert rms(greeting) > 500
    assert peer.messages[0]["role"] == "bot"
    assert peer.messages[0]["text"].startswith("Hello Ada!"), peer.messages
    assert again["pc_id"] == answer["pc_id"]
    assert stored.worker_id == worker.id
    assert stored.status == "active"
