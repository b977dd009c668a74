"""A real TURN server for the tests: Debian's coturn on loopback, run for the length of a block.

`make test` installs coturn (`make coturn`); without `turnserver` the test is skipped with a
loud warning, except in CI (`tests.ci`), where it fails.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from tests.ci import skip_loudly
from tests.voice.peer import Peer

REALM = "numerologist.test"


@dataclass
class TurnServer:
    """A running coturn: where it listens, its REST API secret and its log."""

    port: int
    secret: str
    log_path: Path

    @property
    def turn_url(self) -> str:
        """The TURN URL browsers and aiortc take (UDP)."""
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def stun_url(self) -> str:
        """coturn answers STUN on the same port."""
        return f"stun:127.0.0.1:{self.port}"

    def log(self) -> str:
        """What coturn has logged so far."""
        return self.log_path.read_text(errors="replace")

    def sessions(self, username: str) -> list[dict[str, int]]:
        """The closed allocations of one TURN user, with what went through each.

        coturn (verbose) logs an allocation's totals when it closes: `usage: realm=<...>,
        username=<...>, rp=N, rb=N, sp=N, sb=N` between it and the client (packets and bytes
        received and sent), then `peer usage: ...` between its relay address and the peer.
        Keys: `rp`, `sp` (client side), `peer_rp`, `peer_sp` (peer side).
        """
        found: dict[str, dict[str, int]] = {}
        pattern = re.compile(
            rf"session (\w+): (peer )?usage: realm=<{re.escape(REALM)}>, "
            rf"username=<{re.escape(username)}>, rp=(\d+), rb=\d+, sp=(\d+), sb=\d+"
        )
        for session, peer, received, sent in pattern.findall(self.log()):
            side = "peer_" if peer else ""
            found.setdefault(session, {}).update(
                {f"{side}rp": int(received), f"{side}sp": int(sent)}
            )
        return list(found.values())


def relay_only(ice_servers: list[dict[str, Any]]) -> RTCConfiguration:
    """An aiortc configuration with these ICE servers that gathers relay candidates only."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(**server) for server in ice_servers],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


def candidate_types(sdp: str) -> set[str]:
    """The types (host, srflx, relay) of the candidates in an SDP."""
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def relayed_greeting(
    peer: Peer, client: httpx.AsyncClient, body: dict[str, Any]
) -> np.ndarray:
    """A relay-only `peer` joins the call of `body` (a start's answer): it offers nothing but
    its relay address on coturn, the bot (given ICE_SERVERS) learnt its own address from
    coturn's STUN, and ICE picks the relay. The greeting; the peer closed after."""
    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
        assert candidate_types(peer.pc.localDescription.sdp) == {"relay"}
        assert "srflx" in candidate_types(peer.pc.remoteDescription.sdp)
        greeting = await peer.utterance(peer.offer_sent_at)
        assert peer.selected_pair()[0] == "relay"
        return greeting
    finally:
        await peer.close()


def assert_relayed(server: TurnServer, username: str, packets: int = 100) -> None:
    """coturn relayed at least `packets` packets from the peer (the bot) for this user.

    There is one allocation per ICE transport the client gathered (audio, data channel);
    BUNDLE keeps one, which carries the media.
    """
    sessions = server.sessions(username)
    assert sessions, "coturn logged no allocation closing for this user"
    media = max(sessions, key=lambda s: s["peer_rp"])
    assert media["peer_rp"] >= packets, sessions
    assert media["sp"] >= packets, sessions


def turnserver_binary() -> str:
    """The path of coturn's `turnserver`, or skip loudly (fail in CI) when it is absent."""
    path = shutil.which("turnserver")
    if path is None:
        skip_loudly(
            "coturn's turnserver is not installed (make coturn): the TURN tests cannot run."
        )
    return path


def _free_port() -> int:
    # coturn listens on UDP and TCP: find a port free for both.
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def _answers_stun(port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data = sock.recv(2048)
        except OSError:
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


@contextmanager
def coturn(directory: Path) -> Iterator[TurnServer]:
    """coturn on 127.0.0.1 (listening and relaying there only), TURN REST API auth, no TLS."""
    binary = turnserver_binary()
    server = TurnServer(_free_port(), secrets.token_urlsafe(32), directory / "turnserver.log")
    args = [
        binary,
        "-n",  # no configuration file: only these options
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={server.port}",
        "--use-auth-secret",
        f"--static-auth-secret={server.secret}",
        f"--realm={REALM}",
        "--no-tls",
        "--no-dtls",
        "--no-tcp-relay",
        "--allow-loopback-peers",  # the bot's addresses are this machine's
        "--no-cli",
        "--log-file=stdout",
        "--verbose",  # the per-allocation usage lines that sessions() reads
        "--simple-log",
        f"--pidfile={directory / 'turnserver.pid'}",
        f"--db={directory / 'turndb'}",  # its own, not the shared /var/lib/turn/turndb
    ]
    with server.log_path.open("w") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not _answers_stun(server.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start:\n{server.log()[-2000:]}")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnServer]:
    """coturn for one test (import this fixture into the test module)."""
    with coturn(tmp_path) as server:
        yield server


def turn_settings(server: TurnServer) -> dict[str, Any]:
    """The settings that point the app at this coturn: its STUN for the bot, TURN for users."""
    return {
        "ice_servers": [{"urls": server.stun_url}],
        "turn_urls": [server.turn_url],
        "turn_secret": server.secret,
    }
