"""The impairment harness's profiles, datagram by datagram on a fake clock: loss, bursts, delay
with jitter, a bandwidth cap and a blackout do what they say (tests/voice/test_netem.py checks
the same over real WebRTC)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests import netem

pytestmark = pytest.mark.once


class Scheduler:
    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def later(self, delay: float, call: Callable[[], None]) -> None:
        heapq.heappush(self._due, (self.now + delay, next(self._order), call))

    def run_until(self, until: float) -> None:
        while self._due and self._due[0][0] <= until:
            self.now, _, call = heapq.heappop(self._due)
            call()
        self.now = until


def _send(
    profile: netem.Profile, count: int, every: float = 0.02, size: int = 100
) -> tuple[netem.Direction, list[tuple[float, int]], Scheduler]:
    """`count` datagrams, one every `every` s; the (arrival, index) of each delivered one."""
    scheduler = Scheduler()
    direction = netem.Direction(profile, random.Random(1), lambda: scheduler.now, scheduler.later)
    arrived: list[tuple[float, int]] = []
    for i in range(count):
        scheduler.run_until(i * every)
        direction.send(size, lambda i=i: arrived.append((scheduler.now, i)))
    scheduler.run_until(count * every + 60)
    return direction, arrived, scheduler


def _bursts(arrived: list[tuple[float, int]], count: int) -> list[int]:
    got = {i for _, i in arrived}
    runs = [len(list(g)) for lost, g in itertools.groupby(range(count), lambda i: i not in got)]
    starts_lost = 0 not in got
    return runs[0 if starts_lost else 1 :: 2]


def test_a_clean_profile_delivers_everything_at_once_in_order() -> None:
    direction, arrived, _ = _send(netem.Profile(), 100)
    assert [i for _, i in arrived] == list(range(100))
    assert [t for t, _ in arrived] == pytest.approx([i * 0.02 for i in range(100)])
    assert (direction.counts.sent, direction.counts.dropped) == (100, 0)


def test_random_loss_drops_its_share_one_datagram_at_a_time() -> None:
    direction, arrived, _ = _send(netem.Profile(loss=0.1), 10_000)
    assert direction.counts.dropped / 10_000 == pytest.approx(0.1, abs=0.01)
    assert direction.counts.delivered == len(arrived) == 10_000 - direction.counts.dropped
    bursts = _bursts(arrived, 10_000)
    assert sum(bursts) / len(bursts) < 1.3


def test_gilbert_elliott_loss_comes_in_bursts_of_the_given_mean_length() -> None:
    profile = netem.Profile(bursty=netem.GilbertElliott.bursts(loss=0.05, burst=4))
    direction, arrived, _ = _send(profile, 20_000)
    assert direction.counts.dropped / 20_000 == pytest.approx(0.05, abs=0.015)
    bursts = _bursts(arrived, 20_000)
    assert sum(bursts) / len(bursts) == pytest.approx(4, abs=1)


def test_delay_with_jitter_delays_each_datagram_within_its_bounds_and_reorders() -> None:
    direction, arrived, _ = _send(netem.Profile(delay=0.04, jitter=0.015), 1000)
    assert sorted(i for _, i in arrived) == list(range(1000))
    delays = [t - i * 0.02 for t, i in arrived]
    assert min(delays) >= 0.025 - 1e-9
    assert max(delays) <= 0.055 + 1e-9
    order = [i for _, i in arrived]
    assert sum(a > b for a, b in itertools.pairwise(order)) > 10  # reordered


def test_a_bandwidth_cap_queues_a_burst_behind_it() -> None:
    # 50 datagrams of 1000 bytes at once, through 80 kbit/s: 100 ms each.
    direction, arrived, _ = _send(netem.Profile(rate_kbps=80), 50, every=0.0, size=1000)
    assert [i for _, i in arrived] == list(range(50))
    assert [t for t, _ in arrived] == pytest.approx([0.1 * (i + 1) for i in range(50)])


def test_a_blackout_drops_everything_for_its_length_then_delivers_again() -> None:
    scheduler = Scheduler()
    up = netem.Direction(netem.Profile(), random.Random(1), lambda: scheduler.now, scheduler.later)
    down = netem.Direction(
        netem.Profile(), random.Random(2), lambda: scheduler.now, scheduler.later
    )
    link = netem.Link(up, down)
    delivered: list[int] = []
    for i in range(300):  # 6 s
        scheduler.run_until(i * 0.02)
        if i == 50:
            link.blackout(2.0)
        up.send(100, lambda i=i: delivered.append(i))
        down.send(100, lambda: None)
    assert delivered == list(range(50)) + list(range(150, 300))
    assert up.counts.dropped == down.counts.dropped == 100


def test_the_link_is_unreachable_for_a_blackout_only() -> None:
    """What a peer that rejoins by itself asks before it signals (tests/voice/peer.py)."""
    scheduler = Scheduler()
    link = netem.Link(
        netem.Direction(netem.Profile(), random.Random(1), lambda: scheduler.now, scheduler.later),
        netem.Direction(netem.Profile(), random.Random(2), lambda: scheduler.now, scheduler.later),
    )
    assert link.reachable()
    link.blackout(30.0)
    scheduler.run_until(29.9)
    assert not link.reachable()
    scheduler.run_until(30.0)
    assert link.reachable()


class _Echo(asyncio.DatagramProtocol):
    """A UDP server that answers each datagram with itself, and notes who sent it."""

    def __init__(self) -> None:
        self.senders: set[Any] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.senders.add(addr)
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


async def _round_trips(relay: netem.UdpRelay, count: int) -> list[bytes]:
    """`count` datagrams from a new client through the relay; what came back."""
    loop = asyncio.get_running_loop()
    client = _Client()
    transport, _ = await loop.create_datagram_endpoint(lambda: client, remote_addr=relay.address)
    try:
        for i in range(count):
            transport.sendto(b"%d" % i)
            await asyncio.sleep(0.001)
        deadline = loop.time() + 2
        # Polled with a deadline: how many come back is the loss draw's to say.
        while len(client.received) < relay.down.counts.sent and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        return client.received
    finally:
        transport.close()


async def test_the_udp_relay_passes_and_impairs_what_goes_through_it() -> None:
    """The relay in front of coturn for Chromium (bench/browser_network.py): each client its
    own socket to the server, both ways delivered; loss applied to what the client sends."""
    loop = asyncio.get_running_loop()
    echo = _Echo()
    server, _ = await loop.create_datagram_endpoint(lambda: echo, local_addr=("127.0.0.1", 0))
    relay = await netem.udp_relay(server.get_extra_info("sockname"))
    try:
        clean = await _round_trips(relay, 100)
        assert sorted(clean, key=int) == [b"%d" % i for i in range(100)]
        relay.up.profile = netem.Profile(loss=0.5)
        lossy = await _round_trips(relay, 200)
        assert 60 < len(lossy) < 140, len(lossy)
        assert relay.up.counts.dropped == 300 - relay.up.counts.delivered > 0
        assert relay.down.counts.delivered == 100 + len(lossy)
        assert len(echo.senders) == 2  # one upstream socket per client
    finally:
        relay.close()
        server.close()
