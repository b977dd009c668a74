"""What the user's signalling may carry: offers, candidates and their addresses (issue 21)."""

from __future__ import annotations

import ipaddress

import pytest

from src.schemas import webrtc
from src.schemas.webrtc import InvalidCandidate, InvalidOffer, check_offer

pytestmark = pytest.mark.once

FINGERPRINT = "sha-256 " + ":".join(["AB"] * 32)


def _sdp(*extra: str, audio: bool = True) -> str:
    lines = [
        "v=0",
        "o=- 1 2 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96" if audio else "m=application 9 UDP/DTLS/SCTP webrtc",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        f"a=fingerprint:{FINGERPRINT}",
        *extra,
    ]
    return "\r\n".join(lines) + "\r\n"


def _candidate(address: str, port: int = 50312, transport: str = "udp") -> str:
    return f"candidate:1 1 {transport} 2122260223 {address} {port} typ host"


class TestOffer:
    @pytest.mark.parametrize(
        ("sdp", "why"),
        [
            ("garbage not sdp", "starts v=0"),
            ("", "starts v=0"),
            (_sdp(audio=False), "no audio section"),
            (_sdp().replace("a=ice-pwd:abcdefghijklmnopqrstuv\r\n", ""), "ICE credentials"),
            (_sdp().replace(f"a=fingerprint:{FINGERPRINT}\r\n", ""), "DTLS fingerprint"),
            (_sdp().replace("sha-256", "md5"), "DTLS fingerprint"),
            (_sdp("not a line"), "<type>=<value>"),
            (_sdp("a=" + _candidate("garbage", port=0)), "malformed candidate"),
            (_sdp(*["a=" + _candidate("192.0.2.1", 1000 + i) for i in range(40)]), "At most"),
        ],
    )
    def test_refused(self, sdp: str, why: str) -> None:
        with pytest.raises(InvalidOffer) as refused:
            check_offer(sdp, allow_loopback=True)
        assert why in refused.value.detail

    def test_unusable_candidates_are_left_out_the_rest_kept(self) -> None:
        keep = ["a=" + _candidate("192.0.2.7"), "a=" + _candidate("abc-123.local")]
        drop = [
            "a=" + _candidate("127.0.0.1"),
            "a=" + _candidate("169.254.169.254"),
            "a=" + _candidate("fe80::1"),
            "a=" + _candidate("224.0.0.251"),
        ]
        sdp, count = check_offer(_sdp(*keep, *drop), allow_loopback=False)
        assert count == 6
        assert all(line in sdp for line in keep)
        assert not any(line in sdp for line in drop)
        assert sdp.startswith("v=0\r\n")
        assert sdp.endswith("\r\n")
        kept, _ = check_offer(_sdp(*drop[:1]), allow_loopback=True)
        assert drop[0] in kept


class TestCandidate:
    @pytest.mark.parametrize(
        "text",
        [
            "garbage",
            "candidate:1 1 udp 2122260223 192.0.2.1 notaport typ host",
            "candidate:1 1 udp 2122260223 192.0.2.1 70000 typ host",
            "candidate:1 1 udp 2122260223 192.0.2.1 0 typ host",
            "candidate:1 1 sctp 2122260223 192.0.2.1 5000 typ host",
            "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ bogus",
            "candidate:1 1 udp 2122260223 not-an-address 5000 typ host",
            "candidate:1 1 udp -5 192.0.2.1 5000 typ host",
        ],
    )
    def test_malformed(self, text: str) -> None:
        with pytest.raises(InvalidCandidate):
            webrtc.candidate_usable(text, allow_loopback=True)

    def test_tcp_active_port_9_and_mdns_names_parse(self) -> None:
        assert webrtc.candidate_usable(
            "candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active",
            allow_loopback=False,
        )
        assert webrtc.candidate_usable(_candidate("3f2a-11e9.local"), allow_loopback=False)

    @pytest.mark.parametrize(
        ("address", "usable"),
        [
            ("192.0.2.1", True),
            ("10.1.2.3", True),  # a LAN or a TURN server's relay: real users need these
            ("2001:db8::1", True),
            ("127.0.0.1", False),
            ("::1", False),
            ("::ffff:127.0.0.1", False),
            ("169.254.169.254", False),  # the cloud metadata address
            ("fd00:ec2::254", False),
            ("fe80::1", False),
            ("224.0.0.1", False),
            ("ff02::1", False),
            ("0.0.0.0", False),
            ("255.255.255.255", False),
        ],
    )
    def test_addresses(self, address: str, usable: bool) -> None:
        ip = ipaddress.ip_address(address)
        assert webrtc.address_usable(ip, allow_loopback=False) is usable
