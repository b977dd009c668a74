"""An SRTP datagram too long to unprotect is dropped like any other bad one, not fatal.

pylibsrtp's `Session.unprotect` raises `ValueError("packet is too long")` for a datagram over
its 1,500-byte buffer; aiortc's DTLS receive loop catches only `pylibsrtp.Error` around it, so
one such datagram from the user ended that loop and the bot heard nothing more (the same way a
corrupt Opus packet did, README known issues). aiortc builds its sessions from the `Session`
name it imported: that name is given a session that raises `pylibsrtp.Error` instead.
"""

from __future__ import annotations

import aiortc.rtcdtlstransport as dtls
import pylibsrtp

from src.compat import Private

PRIVATE_NAMES = (Private(dtls, "Session"),)


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


def install() -> None:
    """Have aiortc's DTLS transports use `BoundedSession` (idempotent)."""
    dtls.Session = BoundedSession  # type: ignore[attr-defined]
