"""An over-long SRTP datagram is a bad datagram aiortc drops, not an error that ends its loop."""

from __future__ import annotations

import aiortc.rtcdtlstransport as dtls
import pylibsrtp
import pytest

from src.compat import aiortc_srtp
from src.rooms.local import media  # noqa: F401  (the bot's media path installs it)

pytestmark = pytest.mark.once


def _session() -> pylibsrtp.Session:
    return aiortc_srtp.BoundedSession(_policy())


def test_aiortc_builds_bounded_sessions() -> None:
    assert dtls.Session is aiortc_srtp.BoundedSession


@pytest.mark.parametrize("method", ["unprotect", "unprotect_rtcp"])
def test_an_over_long_datagram_raises_what_aiortc_catches(method: str) -> None:
    datagram = b"\x80\x6f" + bytes(2_000)
    with pytest.raises(ValueError, match="too long"):
        getattr(pylibsrtp.Session(_policy()), method)(datagram)  # what aiortc got before
    with pytest.raises(pylibsrtp.Error):
        getattr(_session(), method)(datagram)


def _policy() -> pylibsrtp.Policy:
    return pylibsrtp.Policy(key=bytes(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
