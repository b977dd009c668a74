"""An over-long SRTP datagram and an empty one are bad datagrams aiortc drops, not errors that end
its receive loop (the real call: `tests/voice/test_bad_packets.py`)."""

from __future__ import annotations

import aiortc.rtcdtlstransport as dtls
import pylibsrtp
import pytest
from aioice import Connection

from src.compat import aiortc_datagrams
from src.compat.aiortc_wire import queued_datagrams
from src.rooms.local import media  # noqa: F401  (the bot's media path installs it)

pytestmark = pytest.mark.once


def _session() -> pylibsrtp.Session:
    return aiortc_datagrams.BoundedSession(_policy())


def test_aiortc_builds_bounded_sessions() -> None:
    assert dtls.Session is aiortc_datagrams.BoundedSession


@pytest.mark.parametrize("method", ["unprotect", "unprotect_rtcp"])
def test_an_over_long_datagram_raises_what_aiortc_catches(method: str) -> None:
    datagram = b"\x80\x6f" + bytes(2_000)
    with pytest.raises(ValueError, match="too long"):
        getattr(pylibsrtp.Session(_policy()), method)(datagram)  # what aiortc got before
    with pytest.raises(pylibsrtp.Error):
        getattr(_session(), method)(datagram)


def test_aioice_connections_drop_an_empty_datagram_and_queue_the_rest() -> None:
    connection = Connection(ice_controlling=False)
    connection.data_received(b"", 1)  # what aiortc's loop would read `[0]` of
    connection.data_received(b"\x80\x6f", 1)
    assert queued_datagrams(connection) == [(b"\x80\x6f", 1)]


def _policy() -> pylibsrtp.Policy:
    return pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
