"""A network impairment harness in user space, for aiortc peers (tests, bench, drills).

These machines have no kernel netem (`tc qdisc ... netem` is refused), and a user-space one
works on any CI machine. It wraps an aiortc peer's ICE sockets (aioice's datagram protocols and
transports), so everything the peer sends and receives goes through it: RTP, RTCP, DTLS, SCTP
and the STUN consent checks (a blackout then looks like a real one to ICE as well).

Per direction (`up`: from the wrapped peer, `down`: to it), a `Profile` gives:
- random loss, or bursty loss (Gilbert-Elliott: a good and a bad state);
- a delay with jitter (uniform, each datagram on its own, so datagrams reorder);
- a bandwidth cap (a queue drained at the rate, so a burst waits behind it).
And for the whole link: a blackout of N seconds, and a change of the peer's address (it goes on
from a new UDP port; what is sent to the old one is lost, as when a phone leaves its Wi-Fi).
`Counts` say what each direction was given, dropped and delivered.

    link = netem.impair(peer.pc, up=netem.Profile(loss=0.05), down=netem.Profile(loss=0.05))
    ...
    link.blackout(5.0)
    await link.change_address()

A peer that rejoins by itself (`tests/voice/peer.py`, `Peer.rejoin_by_itself(network=link)`)
impairs its new connections on the same link (`attach`), finds its signalling cut while the
link is blacked out (`reachable`), and rejoins at once when its address changes (`changes`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aioice.turn import TurnTransport

from src.compat.aiortc_wire import ice_connection, ice_sockets

Deliver = Callable[[], None]


@dataclass(frozen=True)
class GilbertElliott:
    """Bursty loss: a good state (losing `loss_good`) and a bad one (losing `loss_bad`).

    `p`: per datagram, the chance to go from good to bad; `r`: from bad to good.
    """

    p: float
    r: float
    loss_good: float = 0.0
    loss_bad: float = 1.0

    @classmethod
    def bursts(cls, loss: float, burst: float) -> GilbertElliott:
        """A mean `loss` (0-1) in bursts of `burst` datagrams on average (every one lost)."""
        r = 1 / burst
        return cls(p=loss * r / (1 - loss), r=r)


@dataclass(frozen=True)
class Profile:
    """One direction's impairment (seconds, kbit/s)."""

    loss: float = 0.0
    bursty: GilbertElliott | None = None  # used instead of `loss` when given
    delay: float = 0.0
    jitter: float = 0.0  # each datagram's delay: uniform in delay +- jitter
    rate_kbps: float | None = None

    @property
    def clean(self) -> bool:
        return self == Profile()


@dataclass
class Counts:
    """What one direction was given, dropped (loss, blackout, old address) and delivered."""

    sent: int = 0
    dropped: int = 0
    delivered: int = 0


@dataclass
class Direction:
    """Applies a profile to datagrams, in order of sending; delivery is scheduled on a loop.

    Args:
        profile: the impairment.
        rng: the random source (seeded for repeatable runs).
        clock: seconds (the loop's time).
        later: schedules a callable after a delay in seconds (the loop's `call_later`).
    """

    profile: Profile
    rng: random.Random
    clock: Callable[[], float]
    later: Callable[[float, Deliver], Any]
    blackout_until: float = 0.0
    counts: Counts = field(default_factory=Counts)
    _bad: bool = False
    _queue_free: float = 0.0  # when the bandwidth cap's queue is next empty

    def send(self, size: int, deliver: Deliver) -> None:
        """One datagram of `size` bytes, delivered by `deliver` unless it is lost."""
        self.counts.sent += 1
        now = self.clock()
        if now < self.blackout_until or self._lost():
            self.counts.dropped += 1
            return
        wait = 0.0
        if self.profile.rate_kbps:
            self._queue_free = max(self._queue_free, now) + size * 8 / (
                self.profile.rate_kbps * 1000
            )
            wait = self._queue_free - now
        profile = self.profile
        wait += max(0.0, profile.delay + self.rng.uniform(-profile.jitter, profile.jitter))

        def arrive() -> None:
            self.counts.delivered += 1
            deliver()

        if wait <= 0:
            arrive()
        else:
            self.later(wait, arrive)

    def _lost(self) -> bool:
        burst = self.profile.bursty
        if burst is None:
            return self.profile.loss > 0 and self.rng.random() < self.profile.loss
        self._bad = (self.rng.random() >= burst.r) if self._bad else (self.rng.random() < burst.p)
        return self.rng.random() < (burst.loss_bad if self._bad else burst.loss_good)


class _Transport:
    """Stands in for a protocol's datagram transport: sends go through the `up` direction."""

    def __init__(self, link: Link, protocol: Any) -> None:
        self._link = link
        self._protocol = protocol
        self.inner = protocol.transport

    def sendto(self, data: bytes, addr: Any = None) -> None:
        if self._link.old_path_dead and id(self._protocol) in self._link._moved:
            self._link.up.counts.sent += 1
            self._link.up.counts.dropped += 1  # the interface it left is gone
            return

        def deliver() -> None:
            route = self._link.route(self._protocol)
            # The peer closed while the datagram was delayed? (A TURN transport ignores it.)
            closing = getattr(route, "is_closing", None)
            if closing is None or not closing():
                route.sendto(data, addr)

        self._link.up.send(len(data), deliver)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _NewAddress(asyncio.DatagramProtocol):
    """The socket a peer moved to: what it receives goes to the peer's protocol."""

    def __init__(self, receive: Callable[[bytes, Any], None]) -> None:
        self._receive = receive

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._receive(data, addr)


class _BothWays:
    """What goes up (client to server) and down, each through its `Direction`."""

    up: Direction
    down: Direction

    def blackout(self, seconds: float) -> None:
        """Nothing gets through, either way, for `seconds` from now."""
        until = self.up.clock() + seconds
        self.up.blackout_until = self.down.blackout_until = until


class Link(_BothWays):
    """The impairment of one aiortc peer's network, both directions. Made by `impair`."""

    def __init__(self, up: Direction, down: Direction) -> None:
        self.up = up
        self.down = down
        self._moved: dict[int, asyncio.DatagramTransport] = {}  # protocol id -> new socket
        self._protocols: list[Any] = []
        self.changes = 0  # address changes so far (a peer that rejoins by itself watches it)
        # After a change, nothing the old connection sends gets out either (Wi-Fi to mobile
        # data: the old interface is gone), instead of going on from the new port (a NAT
        # rebinding).
        self.old_path_dead = False

    def route(self, protocol: Any) -> Any:
        """The transport a protocol's datagrams leave by now."""
        moved = self._moved.get(id(protocol))
        return moved if moved is not None else protocol.transport.inner

    def wrap(self, protocol: Any) -> None:
        if isinstance(protocol.transport, _Transport):
            return
        self._protocols.append(protocol)
        protocol.transport = _Transport(self, protocol)
        received = protocol.datagram_received

        def on_old_address(data: bytes, addr: Any) -> None:
            if id(protocol) in self._moved:
                self.down.counts.sent += 1
                self.down.counts.dropped += 1  # sent to the address the peer left
                return
            self.down.send(len(data), lambda: received(data, addr))

        protocol.datagram_received = on_old_address
        protocol._netem_received = received

    def attach(self, pc: Any) -> None:
        """Impair one more of the peer's connections (a rejoin's) on this same link: the
        same profiles, the blackout still running. Call it after `setLocalDescription`."""
        for connection in _ice_connections(pc):
            for protocol in ice_sockets(connection):
                self.wrap(protocol)

    def reachable(self) -> bool:
        """Whether anything gets through now (the peer's signalling too: out of a blackout)."""
        return self.up.clock() >= self.up.blackout_until

    async def change_address(self, *, old_path_dead: bool = False) -> None:
        """The peer goes on from a new UDP port on each of its host sockets; datagrams sent
        to its old ports are lost from now on (and, with `old_path_dead`, what its present
        connections send too: only a new connection gets through)."""
        self.old_path_dead = old_path_dead
        loop = asyncio.get_running_loop()
        for protocol in self._protocols:
            inner = protocol.transport.inner
            if isinstance(inner, TurnTransport) or id(protocol) in self._moved:
                continue  # a TURN allocation is not a socket of the peer's own
            sockname = inner.get_extra_info("sockname")
            received = protocol._netem_received

            def on_new_address(
                data: bytes, addr: Any, received: Callable[[bytes, Any], None] = received
            ) -> None:
                self.down.send(len(data), lambda: received(data, addr))

            transport, _ = await loop.create_datagram_endpoint(
                lambda on=on_new_address: _NewAddress(on), local_addr=(sockname[0], 0)
            )
            self._moved[id(protocol)] = transport
        self.changes += 1

    def close(self) -> None:
        for transport in self._moved.values():
            transport.close()
        self._moved.clear()


def _ice_connections(pc: Any) -> list[Any]:
    connections = []
    for transceiver in pc.getTransceivers():
        for transport in (transceiver.sender.transport, transceiver.receiver.transport):
            if transport is not None:
                connections.append(ice_connection(transport.transport))
    if pc.sctp is not None:
        connections.append(ice_connection(pc.sctp.transport.transport))
    unique: dict[int, Any] = {id(c): c for c in connections}
    return list(unique.values())


def impair(pc: Any, up: Profile = Profile(), down: Profile = Profile(), *, seed: int = 19) -> Link:
    """Impair an aiortc peer connection's network: `up` what it sends, `down` what it receives.

    Call it once the peer has gathered its candidates (after `setLocalDescription`); the
    profiles can be swapped later (`link.up.profile = ...`).
    """
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    link = Link(
        Direction(up, random.Random(rng.random()), loop.time, loop.call_later),
        Direction(down, random.Random(rng.random()), loop.time, loop.call_later),
    )
    link.attach(pc)
    return link


def opus_encoder_with_fec(expected_loss: int = 10) -> Callable[[Any], None]:
    """An `__init__` for aiortc's `OpusEncoder` (the test peers') that sends in-band FEC sized
    for `expected_loss` percent, as a browser does when our SDP asks for it (`useinbandfec=1`):
    set it with a monkeypatch (tests) or assign it (the bench)."""
    from aiortc.codecs import opus

    original = opus.OpusEncoder.__init__

    def with_fec(self: Any) -> None:
        original(self)
        self.codec.options = {"application": "voip", "fec": "1", "packet_loss": str(expected_loss)}

    return with_fec


class _Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards the target, for one client: what comes back goes `down`."""

    def __init__(self, relay: UdpRelay, client: Any) -> None:
        self._relay = relay
        self._client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._relay.downstream(data, self._client)


class UdpRelay(_BothWays, asyncio.DatagramProtocol):
    """A UDP relay on loopback in front of a server (coturn), impairing what passes, for a
    client that is not ours to wrap (Chromium): point the client at `address` instead of the
    server. Each client address gets its own socket towards the server (as a NAT would), so the
    server sees one peer per client. `up`: client to server, `down`: server to client; the
    profiles can be swapped between calls (`relay.up.profile = ...`).
    """

    def __init__(self, target: tuple[str, int], up: Direction, down: Direction) -> None:
        self.target = target
        self.up = up
        self.down = down
        self._listening: asyncio.DatagramTransport | None = None
        self._upstreams: dict[Any, _Upstream] = {}
        self._pending: dict[Any, list[bytes]] = {}
        self._opening: set[asyncio.Future[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        """Where the relay listens."""
        assert self._listening is not None
        host, port = self._listening.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._listening = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.up.send(len(data), lambda: self._to_target(data, addr))

    def _to_target(self, data: bytes, client: Any) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            upstream = self._upstreams[client] = _Upstream(self, client)
            self._pending[client] = [data]
            opening = asyncio.ensure_future(self._open(upstream, client))
            self._opening.add(opening)
            opening.add_done_callback(self._opening.discard)
        elif upstream.transport is None:
            self._pending[client].append(data)
        else:
            upstream.transport.sendto(data)

    async def _open(self, upstream: _Upstream, client: Any) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: upstream, remote_addr=self.target)
        assert upstream.transport is not None
        for data in self._pending.pop(client, []):
            upstream.transport.sendto(data)

    def downstream(self, data: bytes, client: Any) -> None:
        """A datagram from the server for `client`, through the `down` direction."""

        def deliver() -> None:
            if self._listening is not None:
                self._listening.sendto(data, client)

        self.down.send(len(data), deliver)

    def close(self) -> None:
        for upstream in self._upstreams.values():
            if upstream.transport is not None:
                upstream.transport.close()
        self._upstreams.clear()
        if self._listening is not None:
            self._listening.close()
            self._listening = None


async def udp_relay(
    target: tuple[str, int], up: Profile = Profile(), down: Profile = Profile(), *, seed: int = 19
) -> UdpRelay:
    """A `UdpRelay` to `target`, listening on a free loopback port (close it when done)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    relay = UdpRelay(
        target,
        Direction(up, random.Random(rng.random()), loop.time, loop.call_later),
        Direction(down, random.Random(rng.random()), loop.time, loop.call_later),
    )
    await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", 0))
    return relay
