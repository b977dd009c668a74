"""What a user's WebRTC signalling may carry, checked before any of it reaches pipecat or aiortc.

An offer must be an SDP with an audio section, ICE credentials and a DTLS fingerprint; anything
else is refused with 400 (pipecat answered "garbage not sdp" with an empty answer and kept the
broken connection, which then refused every later offer). ICE candidates, in the offer or
trickled, must parse; those pointing at loopback, link-local (the cloud metadata address among
them), multicast or unspecified addresses are not used (the bot would send STUN checks there
from the media host); loopback is allowed where ICE_ALLOW_LOOPBACK_CANDIDATES says so.
"""

from __future__ import annotations

import ipaddress
import re

from src.core.errors import DomainError

# pipecat's connection ids ("SmallWebRTCConnection#0-<uuid>"): nothing a log line could break on.
PC_ID_PATTERN = r"^[A-Za-z0-9#._:-]{1,100}$"
# Candidates one connection may be given, in its offer and trickled together (a browser
# gathers a handful per network interface and server).
MAX_CANDIDATES_PER_CONNECTION = 32
MAX_SDP_LINES = 500
_TYPES = {"host", "srflx", "prflx", "relay"}
_FINGERPRINT = re.compile(
    r"^(sha-1|sha-224|sha-256|sha-384|sha-512) ([0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+)$"
)
_MDNS_NAME = re.compile(r"^[A-Za-z0-9-]{1,63}\.local$")
# Cloud metadata services outside the link-local ranges (AWS' IPv6 one).
_METADATA = {ipaddress.ip_address("fd00:ec2::254")}


class InvalidOffer(DomainError):
    """An offer that is not a usable WebRTC audio offer."""

    status_code = 400
    code = "invalid_offer"
    default_detail = "The offer is not a WebRTC SDP offer with an audio section."


class InvalidCandidate(DomainError):
    """A trickled ICE candidate that does not parse."""

    status_code = 400
    code = "invalid_candidate"
    default_detail = "An ICE candidate is malformed."


class TooManyCandidates(DomainError):
    """More ICE candidates for one connection than any client gathers."""

    status_code = 400
    code = "too_many_candidates"
    default_detail = (
        f"At most {MAX_CANDIDATES_PER_CONNECTION} ICE candidates are taken per connection."
    )


def check_offer(sdp: str, *, allow_loopback: bool) -> tuple[str, int]:
    """The offer's SDP with the candidates that may not be used left out, and how many it kept.

    Raises:
        InvalidOffer: not an SDP audio offer with ICE credentials and a DTLS fingerprint, or
            with a malformed candidate, or more than MAX_CANDIDATES_PER_CONNECTION.
    """
    lines = sdp.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "v=0" or len(lines) > MAX_SDP_LINES:
        raise InvalidOffer("The offer's sdp is not an SDP session description (it starts v=0).")
    if any(len(line) < 2 or line[1] != "=" for line in lines):
        raise InvalidOffer("The offer's sdp has a line that is not <type>=<value>.")
    attributes = [line[2:] for line in lines if line.startswith("a=")]
    if not any(line.startswith("m=audio ") for line in lines):
        raise InvalidOffer("The offer has no audio section (m=audio).")
    if not any(a.startswith("ice-ufrag:") and len(a) > 10 for a in attributes) or not any(
        a.startswith("ice-pwd:") and len(a) > 8 for a in attributes
    ):
        raise InvalidOffer("The offer has no ICE credentials (a=ice-ufrag, a=ice-pwd).")
    if not any(
        _FINGERPRINT.match(a.removeprefix("fingerprint:"))
        for a in attributes
        if a.startswith("fingerprint:")
    ):
        raise InvalidOffer("The offer has no DTLS fingerprint (a=fingerprint:sha-256 ...).")
    kept: list[str] = []
    candidates = 0
    for line in lines:
        if line.startswith("a=candidate:"):
            try:
                usable = candidate_usable(line[2:], allow_loopback=allow_loopback)
            except InvalidCandidate as exc:
                raise InvalidOffer(f"The offer has a malformed candidate: {exc.detail}") from None
            candidates += 1
            if candidates > MAX_CANDIDATES_PER_CONNECTION:
                raise InvalidOffer(TooManyCandidates.default_detail)
            if not usable:
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


def candidate_usable(text: str, *, allow_loopback: bool) -> bool:
    """Whether an ICE candidate (`candidate:...` or its value) may be used.

    Raises:
        InvalidCandidate: it does not parse.
    """
    bits = text.removeprefix("candidate:").split()
    try:
        if len(bits) < 8 or bits[6] != "typ" or bits[7] not in _TYPES:
            raise ValueError(
                "expected '<foundation> <component> <transport> <priority> "
                "<address> <port> typ host|srflx|prflx|relay'"
            )
        component, priority, port = int(bits[1]), int(bits[3]), int(bits[5])
        transport, address = bits[2].lower(), bits[4]
        if not 1 <= component <= 256 or not 0 <= priority < 2**32 or not 0 <= port <= 65535:
            raise ValueError("component, priority or port out of range")
        if transport not in {"udp", "tcp"} or (transport == "udp" and port == 0):
            raise ValueError(f"transport {transport} port {port}")
        if len(bits[0]) > 32 or len(text) > 1_000:
            raise ValueError("too long")
        if _MDNS_NAME.match(address):
            return True  # a browser's obfuscated host address
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise InvalidCandidate(f"The ICE candidate {text[:80]!r} is malformed ({exc}).") from None
    return address_usable(ip, allow_loopback=allow_loopback)


def address_usable(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_loopback: bool
) -> bool:
    """Whether the bot may send ICE checks to this address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return not (
        ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip == ipaddress.IPv4Address("255.255.255.255")
        or ip in _METADATA
    )
