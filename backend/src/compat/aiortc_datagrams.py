"""Datagrams that ended aiortc's receive loop are dropped like any other bad one.

aiortc's DTLS transport reads every datagram that is not STUN in one loop (`_recv_next`), and
an exception there ends the loop: the call's media goes with it (the bot hears nothing more
and its audio stops). Two datagrams did that:
- an SRTP datagram over 1,500 bytes: pylibsrtp's `Session.unprotect` raises
  `ValueError("packet is too long")` for it, and the loop catches only `pylibsrtp.Error`. aiortc
  builds its sessions from the `Session` name it imported: that name is given a session that
  raises `pylibsrtp.Error` instead;
- an empty one: aioice hands every datagram that is not STUN, from any address, to the loop,
  which reads its first byte to tell DTLS from SRTP (`IndexError`). One UDP packet of no bytes
  from anyone who could reach the port ended the call's media. aioice's `Connection` is given a
  `data_received` that drops it.
"""

from __future__ import annotations

import aiortc.rtcdtlstransport as dtls
import pylibsrtp
from aioice import Connection

from src.compat import Private

PRIVATE_NAMES = (Private(dtls, "Session"), Private(dtls.RTCDtlsTransport, "_recv_next"))


class BoundedSession(pylibsrtp.Session):
    """pylibsrtp's session, whose unprotect refuses an over-long datagram as a bad one."""

    def unprotect(self, packet: bytes) -> bytes:
        try:
            data: bytes = super().unprotect(packet)
        except ValueError as exc:
            raise pylibsrtp.Error(f"SRTP datagram refused: {exc}") from None
        return data

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        try:
            data: bytes = super().unprotect_rtcp(packet)
        except ValueError as exc:
            raise pylibsrtp.Error(f"SRTCP datagram refused: {exc}") from None
        return data


_queue_datagram = Connection.data_received


def _data_received(self: Connection, data: bytes, component: int) -> None:
    """aioice's, for a datagram that is not empty."""
    if data:
        _queue_datagram(self, data, component)


def install() -> None:
    """Have aiortc's DTLS transports use `BoundedSession` and aioice's connections drop empty
    datagrams (idempotent)."""
    dtls.Session = BoundedSession  # type: ignore[attr-defined]
    Connection.data_received = _data_received  # type: ignore[method-assign]
