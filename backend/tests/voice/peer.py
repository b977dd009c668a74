"""A WebRTC peer (aiortc) that plays the user: it speaks PCM, hears the bot, reads messages."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from src.compat.aiortc_wire import ice_connection, nominated_pair
from tests.kit.rooms import post_offer, transcript_line

RATE = 48_000
FRAME = 960  # 20 ms
# A peer that rejoins by itself calls its connection lost after this long with nothing received
# (the server hangs up a silent user after BOT_IDLE_TIMEOUT_SECONDS, 10 s by default; a 5 s
# blackout is ridden out).
LOST_AFTER_SECONDS = 7.0
# Each rejoin attempt's new connection has this long to connect before the next one.
RECONNECT_ATTEMPT_SECONDS = 3.0


class Network(Protocol):
    """What a self-rejoining peer asks of its network (the impairment harness's `Link`)."""

    changes: int  # how many times the peer's address changed

    def reachable(self) -> bool: ...

    def attach(self, pc: RTCPeerConnection) -> None: ...


@dataclass
class Recovery:
    """One loss of the peer's connection and its rejoin (monotonic seconds)."""

    lost_at: float
    why: str
    attempts: int = 0
    connected_at: float | None = None
    gave_up: str | None = None  # why it stopped trying (the conversation ended)


class SpeakingTrack(MediaStreamTrack):  # type: ignore[misc]
    """An outgoing audio track: silence, or the samples queued with `say`."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = np.zeros(0, dtype=np.int16)
        self._sent = 0
        self._start: float | None = None

    def say(self, samples: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, samples.astype(np.int16)])

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._sent / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._pending[:FRAME]
        self._pending = self._pending[FRAME:]
        chunk = np.pad(chunk, (0, FRAME - len(chunk)))
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += FRAME
        return frame


class Peer:
    """The user's side of a local room."""

    def __init__(
        self,
        configuration: RTCConfiguration | None = None,
        mic: SpeakingTrack | None = None,
        *,
        adaptive_ears: bool = False,
    ) -> None:
        # aiortc's default configuration points at a public STUN server: none here.
        self._configuration = configuration or RTCConfiguration(iceServers=[])
        # The bot's audio through our adaptive jitter buffer and concealment (the bot's own for
        # the user's audio, `user_audio.JitteredOpus`), as a browser's NetEQ adapts, instead of
        # aiortc's buffer, which stays ~200 ms deep for good after a loss (issue 19): what a
        # figure of latency under loss should be heard through.
        self._adaptive_ears = adaptive_ears
        self.mic = mic or SpeakingTrack()
        self.received: list[tuple[float, np.ndarray]] = []
        # Every RTVI message the bot sent, and (in `messages`) the transcript as the room page
        # shows it (`room.js`'s cutLine): a bot line the user cut short holds what was said of
        # it, marked `interrupted`; a line cut before its first word is left with no text.
        self.rtvi: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.offer_sent_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        # Each time the peer found its connection lost and connected again by itself.
        self.recoveries: list[Recovery] = []
        self._new_connection()

    def _new_connection(self) -> None:
        """A new peer connection (the first, or a rejoin's), the same microphone and ears."""
        self.pc = RTCPeerConnection(self._configuration)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("chat")
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def start_pings(self) -> None:
        """Send "ping" on the data channel twice a second, as the room page does."""

        async def ping() -> None:
            while True:
                if self.channel.readyState == "open":
                    self.channel.send(f"ping: {time.time()}")
                await asyncio.sleep(0.5)

        self._pinging = asyncio.ensure_future(ping())
        self._tasks.append(self._pinging)

    def stop_pings(self) -> None:
        """Go silent on the data channel without closing anything (a vanished page)."""
        self._pinging.cancel()

    def _on_message(self, message: str) -> None:
        with contextlib.suppress(ValueError):
            parsed = json.loads(message)
            self.rtvi.append(parsed)
            if (line := transcript_line(parsed)) is not None:
                self._transcript(line)

    def _transcript(self, line: dict[str, Any]) -> None:
        cut = line.get("interrupted") and line.get("id")
        shown = next((m for m in self.messages if cut and m.get("id") == cut), None)
        if shown is not None:
            # In place, so that indices into `messages` stay valid (the page drops a line
            # cut before its first word: here its text is emptied).
            shown.update(text=line.get("text", ""), interrupted=True)
        elif line.get("text"):
            self.messages.append(dict(line))  # its own: `rtvi` keeps the message as it came

    def send_rtvi(self, kind: str, data: dict[str, Any], id: str = "peer") -> None:
        """Send one RTVI message (`client-ready`, ...) as pipecat's client SDK does."""
        self.channel.send(json.dumps({"label": "rtvi-ai", "type": kind, "id": id, "data": data}))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _answered(self, answer: dict[str, Any]) -> None:
        """Take the room's answer; with adaptive ears, hear through our jitter buffer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        if not self._adaptive_ears:
            return
        from src.rooms.local import user_audio

        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.kind == "audio")

        def hand_over(pcm: bytes, _timestamp: int) -> None:
            samples, now = np.frombuffer(pcm, np.int16), time.monotonic()
            for start in range(0, len(samples), RATE // 50):
                self.received.append((now, samples[start : start + RATE // 50].copy()))

        user_audio.install(receiver, hand_over, RATE, lambda _reason, _detail: None)

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return  # the track ended: the connection closed
            samples = frame.to_ndarray().reshape(-1)
            if len(frame.layout.channels) == 2:
                samples = samples[::2]
            if frame.sample_rate != RATE:
                continue
            self.received.append((time.monotonic(), samples.astype(np.int16)))

    def _raise_failures(self) -> None:
        """Raise what broke a listening task (a decoding error), instead of "said nothing"."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise RuntimeError("the peer stopped receiving") from task.exception()

    async def connect(self, client: httpx.AsyncClient, room_url: str, token: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sent_at = time.monotonic()
        response = await post_offer(client, self.pc, room_url, token)
        response.raise_for_status()
        await self._answered(response.json())

    async def connect_as_sdk(
        self, client: httpx.AsyncClient, room_url: str, token: str, pc_id: str | None = None
    ) -> dict[str, Any]:
        """Offer (or renegotiate `pc_id`) the way pipecat's SmallWebRTC client transport does:
        its body, POSTed to the room URL itself; the answer."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sent_at = self.offer_sent_at or time.monotonic()
        body = {
            "sdp": self.pc.localDescription.sdp,
            "type": "offer",
            "pc_id": pc_id,
            "restart_pc": False,
            "requestData": {"app": "numerology-web"},
        }
        response = await client.post(
            room_url, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        if pc_id is None:
            await self._answered(answer)
        else:  # a renegotiation: the receiver runs already
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        return answer

    def rtvi_of(self, kind: str) -> list[dict[str, Any]]:
        """The RTVI messages of one type the bot sent."""
        return [m for m in self.rtvi if m.get("label") == "rtvi-ai" and m.get("type") == kind]

    def speaking_events(self) -> int:
        """How many RTVI bot-started-speaking events the bot has sent so far."""
        return len(self.rtvi_of("bot-started-speaking"))

    async def bot_finished_speaking(self, after: int, *, within: float = 60.0) -> None:
        """Wait until the bot has started speaking more than `after` times and is silent again
        (its RTVI bot-stopped-speaking event): the end of what it said, by its own account,
        whatever pauses the audio had (a take synthesised late on a loaded machine)."""
        deadline = time.monotonic() + within
        while True:
            started = self.speaking_events()
            if started > after and len(self.rtvi_of("bot-stopped-speaking")) >= started:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the bot did not finish speaking: {started} started (after {after}), "
                    f"{len(self.rtvi_of('bot-stopped-speaking'))} stopped"
                )
            await asyncio.sleep(0.05)

    def selected_pair(self) -> tuple[str, str]:
        """The types of the local and the remote candidate of the pair ICE chose."""
        pair = self._nominated()
        return pair.local_candidate.type, pair.remote_candidate.type

    def selected_addresses(self) -> tuple[str, str]:
        """The addresses of the local and the remote candidate of the pair ICE chose."""
        pair = self._nominated()
        return pair.local_candidate.host, pair.remote_candidate.host

    def remote_address(self) -> tuple[str, int]:
        """The bot's address and port on the pair ICE chose."""
        pair = self._nominated()
        return pair.remote_candidate.host, pair.remote_candidate.port

    def _nominated(self) -> Any:
        ice = self.pc.getTransceivers()[0].sender.transport.transport
        return nominated_pair(ice_connection(ice))

    def last_sound(self, threshold: float = 500.0) -> float | None:
        """When the latest frame louder than `threshold` RMS arrived (None: none yet)."""
        for at, samples in reversed(self.received):
            if rms(samples) > threshold:
                return at
        return None

    def first_sound_after(self, since: float, threshold: float = 500.0) -> float | None:
        """When the first frame louder than `threshold` RMS arrived after `since`."""
        for at, samples in self.received:
            if at >= since and rms(samples) > threshold:
                return at
        return None

    async def utterance(
        self, since: float, *, within: float = 60.0, quiet: float = 2.5
    ) -> np.ndarray:
        """The bot's next utterance after `since`: its first loud frame to `quiet` s of quiet."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self._raise_failures()
            start = self.first_sound_after(since)
            if start is not None:
                loud = [at for at, s in self.received if at >= start and rms(s) > 500]
                if time.monotonic() - loud[-1] > quiet:
                    frames = [s for at, s in self.received if start <= at <= loud[-1]]
                    return np.concatenate(frames)
            await asyncio.sleep(0.1)
        after = [(at, rms(s)) for at, s in self.received if at >= since]
        loudest = max((r for _, r in after), default=0.0)
        raise TimeoutError(
            f"the bot said nothing: {len(after)} frames after {since:.1f}, loudest RMS "
            f"{loudest:.0f}, last frame at {self.received[-1][0] if self.received else 0:.1f}"
        )

    def rejoin_by_itself(
        self,
        client: httpx.AsyncClient,
        conversation_id: str,
        access_token: str,
        *,
        network: Network | None = None,
        lost_after: float = LOST_AFTER_SECONDS,
    ) -> None:
        """Watch the connection and, once it is lost, rejoin the same conversation, as the
        room page does: `POST .../join` (a new room token) and a new connection, tried again
        until the room takes it and it connects (`recoveries` records each).

        Lost: the connection failed or closed, the network says its address changed, or
        nothing at all (RTP, RTCP, the data channel's acknowledgements) came for `lost_after`
        seconds while the peer pinged (a blackout shorter than that is ridden out).
        `network` (the impairment harness's link) impairs each new connection too, and its
        signalling: while it is down the requests fail, as they would on a dead network.
        """
        self._rejoining = asyncio.ensure_future(
            self._keep_connected(client, conversation_id, access_token, network, lost_after)
        )
        self._tasks.append(self._rejoining)

    async def _keep_connected(
        self,
        client: httpx.AsyncClient,
        conversation_id: str,
        access_token: str,
        network: Network | None,
        lost_after: float,
    ) -> None:
        while True:
            why = await self._lost(network, lost_after)
            recovery = Recovery(lost_at=time.monotonic(), why=why)
            self.recoveries.append(recovery)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pc.close(), 5)
            await self._reconnect(client, conversation_id, access_token, network, recovery)
            if recovery.connected_at is None:
                return  # the conversation is over: nothing to rejoin

    async def _lost(self, network: Network | None, lost_after: float) -> str:
        changes = network.changes if network is not None else 0
        received, heard_at = -1, time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            if self.pc.connectionState in ("failed", "closed"):
                return f"the connection {self.pc.connectionState}"
            if network is not None and network.changes != changes:
                return "the network changed"
            now = time.monotonic()
            stats = (await self.pc.getStats()).values()
            packets = sum(s.packetsReceived for s in stats if s.type == "transport")
            if packets != received:
                received, heard_at = packets, now
            elif now - heard_at >= lost_after:
                return f"nothing received for {lost_after:.0f} s"

    async def _reconnect(
        self,
        client: httpx.AsyncClient,
        conversation_id: str,
        access_token: str,
        network: Network | None,
        recovery: Recovery,
    ) -> None:
        room: dict[str, Any] | None = None
        while True:
            recovery.attempts += 1
            if network is not None and not network.reachable():
                await asyncio.sleep(0.25)  # a request now would fail: nothing gets through
                continue
            if room is None:
                joined = await client.post(
                    f"/api/v1/conversations/{conversation_id}/join",
                    headers={"Authorization": f"Bearer {access_token}"},
                )
                if joined.status_code != 200:
                    recovery.gave_up = joined.text
                    return  # ended (or never ours): the page would show it ended
                room = joined.json()
            self._new_connection()
            await self.pc.setLocalDescription(await self.pc.createOffer())
            if network is not None:
                network.attach(self.pc)
            offered = await post_offer(client, self.pc, room["daily_room_url"], room["daily_token"])
            if offered.status_code == 200:
                await self._answered(offered.json())
                if await self._connected_within(RECONNECT_ATTEMPT_SECONDS):
                    recovery.connected_at = time.monotonic()
                    return
            elif offered.status_code in (401, 403):
                room = None  # the room token expired: join again for a new one
            elif offered.status_code != 400:  # anything but "the room holds a connection"
                recovery.gave_up = offered.text
                return
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pc.close(), 5)
            await asyncio.sleep(0.25)

    async def _connected_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.pc.connectionState == "connected":
                return True
            if self.pc.connectionState in ("failed", "closed"):
                return False
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        """Close the connection; raise if receiving the bot's audio failed meanwhile."""
        rejoining: asyncio.Task[None] | None = getattr(self, "_rejoining", None)
        if rejoining is not None:
            rejoining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rejoining
            self._tasks.remove(rejoining)
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._raise_failures()


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples."""
    if not len(samples):
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
