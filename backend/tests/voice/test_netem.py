"""The impairment harness over real WebRTC: two aiortc peers, one behind `tests.netem`, each
counting the RTP packets the other's audio reached it with."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from src.compat.aiortc_wire import on_rtp_packet
from tests import netem
from tests.voice.peer import SpeakingTrack

pytestmark = pytest.mark.once


class Side:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(SpeakingTrack())
        self.arrivals: list[tuple[float, int]] = []  # (time.monotonic(), sequence number)
        on_rtp_packet(
            self.pc.getTransceivers()[0].receiver,
            lambda packet, _ms: self.arrivals.append((time.monotonic(), packet.sequence_number)),
        )

    def since(self, start: float) -> list[int]:
        return [s for t, s in self.arrivals if t >= start]


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
async def call() -> AsyncIterator[tuple[Side, Side, netem.Link]]:
    """The user's side behind the harness (clean to start with), the far side, the link."""
    user, far = Side(), Side()
    await user.pc.setLocalDescription(await user.pc.createOffer())
    link = netem.impair(user.pc)
    await far.pc.setRemoteDescription(user.pc.localDescription)
    await far.pc.setLocalDescription(await far.pc.createAnswer())
    await user.pc.setRemoteDescription(far.pc.localDescription)
    try:
        await _until(lambda: len(user.arrivals) > 10 and len(far.arrivals) > 10)
        yield user, far, link
    finally:
        link.close()
        await user.pc.close()
        await far.pc.close()


async def test_loss_up_jitter_down_blackout_and_an_address_change_reach_the_far_side(
    call: tuple[Side, Side, netem.Link],
) -> None:
    user, far, link = call
    # 20 % loss of what the user sends, 30 ms +- 20 ms of delay on what it receives.
    link.up.profile = netem.Profile(loss=0.2)
    link.down.profile = netem.Profile(delay=0.03, jitter=0.02)
    start = time.monotonic()
    await _until(
        lambda: len(far.since(start)) > 1 and far.since(start)[-1] - far.since(start)[0] >= 200
    )
    heard = far.since(start)
    sent = heard[-1] - heard[0] + 1
    assert 1 - len(set(heard)) / sent == pytest.approx(0.2, abs=0.1)
    came = user.since(start)
    assert sum(a > b for a, b in itertools.pairwise(came)) > 5  # the far side's audio reordered
    assert len(set(came)) == max(came) - min(came) + 1  # and nothing of it lost

    # A 2 s blackout: nothing either way (a gap of ~100 packets of 20 ms), then both ways again.
    link.up.profile = link.down.profile = netem.Profile()
    before = (len(far.arrivals), len(user.arrivals))
    link.blackout(2.0)
    await _until(lambda: len(far.arrivals) > before[0] + 20 and len(user.arrivals) > before[1] + 20)
    for side in (far, user):
        gaps = [b - a for a, b in itertools.pairwise(s for _, s in side.arrivals)]
        assert max(gaps) >= 80

    # The user's address changes: what it sends still arrives (from its new port), what is
    # sent to its old one is lost.
    dropped, heard, came = link.down.counts.dropped, len(far.arrivals), len(user.arrivals)
    await link.change_address()
    await _until(lambda: link.down.counts.dropped > dropped + 25 and len(far.arrivals) > heard + 25)
    assert len(user.arrivals) <= came + 2  # at most what was on its way
