"""The test peer itself: an error while receiving the bot's audio is raised, not swallowed."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError

from tests.voice.peer import Peer

pytestmark = pytest.mark.once


class _Track:
    """A remote audio track whose `recv` raises (as aiortc's does when the track ends)."""

    kind = "audio"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.received = asyncio.Event()

    async def recv(self) -> None:
        self.received.set()
        raise self.error


async def test_a_receive_error_fails_the_wait_and_the_close() -> None:
    peer = Peer()
    peer.pc.emit("track", _Track(ValueError("undecodable frame")))
    with pytest.raises(RuntimeError, match="stopped receiving") as raised:
        await peer.utterance(0.0, within=10)
    assert isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(RuntimeError, match="stopped receiving"):
        await peer.close()


async def test_the_track_ending_is_no_error() -> None:
    peer = Peer()
    track = _Track(MediaStreamError())
    peer.pc.emit("track", track)
    await track.received.wait()
    await asyncio.sleep(0)  # the listening task returns
    await peer.close()
