"""What ended bots leave behind in the process: nothing of theirs.

After a load the next call should be as fast as on an idle server (issue 12), so a bot that
ended, whichever way, must leave no task, no thread, no connection, pipeline or audio buffer
alive. Two real bots over real WebRTC: one ended by the end request, one by its user hanging up
(the rejoin grace then runs out).
"""

from __future__ import annotations

import asyncio
import gc
import threading

import httpx
import pytest
from fastapi import FastAPI

from src.voice_pipeline import inference
from tests.api.conversation_helpers import eventually, no_bots_left, row
from tests.voice.calls import new_call
from tests.voice.peer import Peer

pytestmark = pytest.mark.once

# Objects each bot makes for itself (pipecat's, aiortc's and ours).
PER_BOT = (
    "PipelineWorker",
    "SmallWebRTCConnection",
    "LocalWebRTCTransport",
    "SpeechTrack",
    "_DecodeOnTheLoop",
    "RTCRtpReceiver",
    "RTCPeerConnection",
)


def _alive() -> dict[str, int]:
    gc.collect()
    counts = dict.fromkeys(PER_BOT, 0)
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in counts:
            counts[name] += 1
    return counts


# The process's bounded thread pools, shared by every bot: asyncio's default executor, the
# inference gates (one thread per slot), AnyIO's and aiosqlite's. They may grow up to their
# size during a call; a thread of one bot (aiortc's "audio-decoder") must not stay.
POOLS = ("asyncio_", "inference-", "AnyIO worker thread")
SQLITE = "(_connection_worker_thread)"


def _threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate())


def _new_threads(before: list[str]) -> list[str]:
    return [
        name
        for name in _threads()
        if name not in before and not name.startswith(POOLS) and not name.endswith(SQLITE)
    ]


async def _call(client: httpx.AsyncClient) -> tuple[Peer, dict[str, str], str]:
    user, body, peer = await new_call(client)
    await peer.utterance(peer.offer_sent_at)
    return peer, {"Authorization": f"Bearer {user['access_token']}"}, body["conversation_id"]


async def test_ended_bots_leave_no_task_thread_or_buffer_behind(
    app: FastAPI, client: httpx.AsyncClient, no_leaked_tasks: None
) -> None:
    # A first call warms up what stays for the process (the inference gates' threads).
    peer, auth, conversation = await _call(client)
    await client.post(f"/api/v1/conversations/{conversation}/end", headers=auth)
    await peer.close()
    del peer  # the test's own peer is an RTCPeerConnection too
    await no_bots_left(app)
    threads_before, alive_before = _threads(), _alive()
    assert alive_before == dict.fromkeys(PER_BOT, 0), alive_before

    # Two calls at once: both live at the same moment is what the counts below need.
    ended, hung_up = await asyncio.gather(_call(client), _call(client))
    during = _alive()
    # Each live bot holds its own (and the test's two peers are RTCPeerConnections too).
    assert during["PipelineWorker"] == during["SpeechTrack"] == during["_DecodeOnTheLoop"] == 2
    assert during["RTCPeerConnection"] == 4
    assert any(name.startswith("audio-decoder") for name in _threads())
    peer, auth, conversation = ended
    await client.post(f"/api/v1/conversations/{conversation}/end", headers=auth)
    await peer.close()
    peer, _auth, conversation = hung_up
    await peer.close()  # no Leave, no end request: the grace runs out
    del peer, ended, hung_up

    async def left() -> None:
        assert (await row(app, conversation)).end_reason == "user_left"

    await eventually(left, within=20)
    await no_bots_left(app)

    def nothing_left() -> None:
        assert _alive() == dict.fromkeys(PER_BOT, 0)
        assert _new_threads(threads_before) == []
        gates = [name for name in _threads() if name.startswith("inference-")]
        assert len(gates) <= len(inference._gates) * inference.cores(), gates

    await eventually(nothing_left, within=10)
