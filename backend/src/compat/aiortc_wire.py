"""What the tests' and the bench's peers reach inside aiortc and aioice to watch or shape the wire.

aiortc has no public way to see an RTP packet as it arrives (before its jitter buffer and
decoder), to send a pre-built RTP packet, or to reach the ICE connection under a transport
(its sockets, the pair it chose): the load users, the recording peers, the impaired-network
shims and the drills' stuck peers do it through these private names. None of it runs in the
service; it is here so that an aiortc or aioice upgrade that drops a name fails
`tests/compat/test_contract.py` by name, not a bench run by a silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aioice import Connection
from aiortc import RTCDtlsTransport, RTCIceTransport, RTCRtpReceiver
from aiortc.rtp import RtpPacket

from src.compat import Private

PRIVATE_NAMES = (
    Private(RTCIceTransport, "_connection"),
    Private(Connection, "_nominated"),
    Private(Connection, "_protocols"),
    Private(Connection, "_queue"),
    Private(RTCRtpReceiver, "_handle_rtp_packet"),
    Private(RTCDtlsTransport, "_send_rtp"),
)

RtpHandler = Callable[[RtpPacket, int], Awaitable[None]]


def ice_connection(transport: RTCIceTransport) -> Connection:
    """The aioice connection under an ICE transport: its sockets and the pairs it checks."""
    return transport._connection


def nominated_pair(connection: Connection, component: int = 1) -> Any:
    """The candidate pair ICE nominated for a component (RTP's is 1), or None yet."""
    return connection._nominated.get(component)


def ice_sockets(connection: Connection) -> list[Any]:
    """The connection's sockets: aioice's datagram protocols, one per local candidate."""
    return list(connection._protocols)


def queued_datagrams(connection: Connection) -> list[tuple[bytes, int] | None]:
    """Take what the connection has queued for aiortc's DTLS transport to read (every datagram
    but STUN, with its component; None where a socket closed), as a test that feeds it
    datagrams looks at what went on."""
    queue = connection._queue
    taken: list[tuple[bytes, int] | None] = []
    while not queue.empty():
        taken.append(queue.get_nowait())
    return taken


def on_rtp_packet(
    receiver: RTCRtpReceiver, record: Callable[[RtpPacket, int], None], *, pass_on: bool = True
) -> None:
    """`record(packet, arrival_time_ms)` for each RTP packet the receiver gets, as it arrives
    (decrypted, parsed, before the jitter buffer); handed on to aiortc after, unless `pass_on`
    is False (then the receiver plays nothing)."""
    handle: RtpHandler = receiver._handle_rtp_packet

    async def recorded(packet: RtpPacket, arrival_time_ms: int) -> None:
        record(packet, arrival_time_ms)
        if pass_on:
            await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = recorded  # type: ignore[method-assign]


def rtp_sender(transport: RTCDtlsTransport) -> Callable[[bytes], Awaitable[None]]:
    """What sends one RTP packet, already serialised, through a DTLS transport (SRTP-protected
    on the way, as a sender's own packets are): the transport's own method, called directly by
    a ticker that sends for many users 50 times a second."""
    return transport._send_rtp
