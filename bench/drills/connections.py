"""Drills on connections that never complete: users whose page posts a valid offer and then
vanishes before ICE, or whose UDP is dropped from the start (a firewall), take every bot slot.
Their bots must be released at the join timeout, their slots and rooms freed, the end request
answered at once in every state, and the next user's call must work."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.drills.base import Drill, Line, Scenario, answer, call, ended, reason
from src.compat.aiortc_wire import ice_connection, ice_sockets

# Few slots, so that four stuck users fill them; a join timeout long enough for the four to
# start and offer on a loaded machine before the first is released. A connection that never
# connects is given up on before the join timeout, as by default (the app's
# WEBRTC_CONNECT_TIMEOUT_SECONDS 30 s, pipecat's own timer 60 s, the join timeout 60 s): here
# after 4 s, both the app's and pipecat's (bench.drills.app), before the join timeout of 8 s.
MAX_BOTS, JOIN_TIMEOUT, CONNECTION_TIMEOUT = 4, 8, 4
SETTINGS = {
    "MAX_BOTS": str(MAX_BOTS),
    "JOIN_TIMEOUT_SECONDS": str(JOIN_TIMEOUT),
    "WEBRTC_CONNECT_TIMEOUT_SECONDS": str(CONNECTION_TIMEOUT),
    "DRILL_CONNECTION_TIMEOUT_SECONDS": str(CONNECTION_TIMEOUT),
}
# An end request answers within this, whatever the state of the call's connection.
END_WITHIN = 2.0


def _drop_udp(pc: RTCPeerConnection) -> None:
    """Drop every datagram the peer's ICE sockets send or receive (its candidates gathered)."""

    async def send_nothing(data: bytes, addr: tuple[str, int]) -> None:
        return None

    assert pc.sctp is not None
    transports = {t.sender.transport.transport for t in pc.getTransceivers()}
    transports.add(pc.sctp.transport.transport)
    for ice in transports:
        for protocol in ice_sockets(ice_connection(ice)):
            protocol.datagram_received = lambda data, addr: None
            protocol.send_stun = lambda message, addr: None
            protocol.send_data = send_nothing


async def _stuck(drill: Drill, body: dict[str, Any], udp: bool) -> RTCPeerConnection:
    """A user's page that offers (an audio track and a data channel, as the room page) and
    then vanishes before ICE (`udp` False), or stays with all of its UDP dropped (True)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    if udp:
        _drop_udp(pc)
    room = body["daily_room_url"].rsplit("/", 1)[1]
    offered = await drill.client.post(
        f"/api/v1/rooms/{room}/offer",
        json={"sdp": pc.localDescription.sdp, "type": "offer"},
        headers={"Authorization": f"Bearer {body['daily_token']}"},
    )
    offered.raise_for_status()
    if udp:
        sdp = offered.json()
        await pc.setRemoteDescription(RTCSessionDescription(sdp["sdp"], sdp["type"]))
    else:
        await pc.close()
    return pc


async def _end(drill: Drill, auth: dict[str, str], conversation_id: str) -> tuple[str, float]:
    """End a call: what it answered and how long it took ("no answer" after 10 s)."""
    began = time.monotonic()
    try:
        ending = await asyncio.wait_for(drill.end(auth, conversation_id), 10)
    except TimeoutError:
        return "no answer", time.monotonic() - began
    return answer(ending), time.monotonic() - began


async def _stuck_call(
    drill: Drill, auth: dict[str, str], udp: bool = False
) -> tuple[tuple[dict[str, str], str], RTCPeerConnection]:
    """A call started whose connection is stuck: (its user's auth, its id) and the page's pc."""
    started = await drill.start(auth)
    started.raise_for_status()
    body = started.json()
    return (auth, body["conversation_id"]), await _stuck(drill, body, udp)


async def stuck_connections(drill: Drill) -> Line:
    line = Line(
        "stuck connections fill the bots",
        f"{MAX_BOTS - 1} offer and vanish, 1 UDP dropped: {MAX_BOTS} of {MAX_BOTS} bots",
    )
    users = [(await drill.user())[0] for _ in range(MAX_BOTS + 2)]
    began = time.monotonic()
    stuck = [await _stuck_call(drill, auth, udp=i == 0) for i, auth in enumerate(users[:MAX_BOTS])]
    calls, peers = [c for c, _ in stuck], [pc for _, pc in stuck]
    full = await drill.start(users[-1])
    line.expect(full.status_code == 503, f"a start with every slot taken got {answer(full)}")
    # A user ends their call once its connection has been given up on, before the join
    # timeout; the slot that frees is taken by one more stuck user.
    await asyncio.sleep(max(0.0, began + CONNECTION_TIMEOUT + 1.5 - time.monotonic()))
    first = await _end(drill, *calls[-1])
    line.expect(first[0] == "200", f"the end of a stuck call answered {first[0]}")
    line.expect(first[1] <= END_WITHIN, f"the end of a stuck call answered after {first[1]:.1f} s")
    more, pc = await _stuck_call(drill, users[MAX_BOTS])
    calls, peers = [*calls[:-1], more, calls[-1]], [*peers, pc]
    rows = [await ended(drill, cid, within=JOIN_TIMEOUT + 10) for _, cid in calls[:-1]]
    reasons = [reason(row) for row in rows]
    line.expect(
        all(row is not None and row["end_reason"] == "user_never_joined" for row in rows),
        f"the stuck calls ended as {reasons}, not user_never_joined",
    )
    # Their slots and rooms are free (the app's /health) before the next user calls.
    freed = await drill.leftovers([cid for _, cid in calls], within=10)
    line.expect(not freed, f"after the join timeout: {'; '.join(freed)}")
    late = [await _end(drill, *c) for c in calls[:-1]]
    slow = [f"{code} after {took:.1f} s" for code, took in late if took > END_WITHIN]
    line.expect(not slow, f"the end of a released call answered {slow}")
    told = (
        f"full: {answer(full)}; end once given up {first[0]} in {first[1]:.2f} s; "
        f"stuck ended as {reasons}, then end {max(t for _, t in late):.2f} s at most"
    )
    try:
        auth, body, peer = await call(drill)
    except Exception as exc:
        line.answered = f"{told}; the next call {exc!r}"
        line.problems.append("the next user's call failed")
    else:
        ending = await _end(drill, auth, body["conversation_id"])
        await peer.close()
        line.answered = f"{told}; the next call greeted, its end {ending[0]} in {ending[1]:.2f} s"
        line.expect(ending[0] == "200" and ending[1] <= END_WITHIN, "the next call's end")
        calls.append((auth, body["conversation_id"]))
    await asyncio.gather(*(pc.close() for pc in peers))
    return await drill.settled(line, [cid for _, cid in calls])


def scenarios() -> list[Scenario]:
    """With few bot slots and a short connection timeout (SETTINGS)."""
    return [("stuck-connections", stuck_connections)]
