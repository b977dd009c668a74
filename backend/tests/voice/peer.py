"""A WebRTC peer (aiortc) that plays the user: it speaks PCM, hears the bot, reads messages."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from typing import Any

import av
import httpx
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

RATE = 48_000
FRAME = 960  # 20 ms


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
        self, configuration: RTCConfiguration | None = None, mic: SpeakingTrack | None = None
    ) -> None:
        # aiortc's default configuration points at a public STUN server: none here.
        self.pc = RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))
        self.mic = mic or SpeakingTrack()
        self.pc.addTrack(self.mic)
        self.received: list[tuple[float, np.ndarray]] = []
        # Every RTVI message the bot sent, and (in `messages`) the transcript lines among them.
        self.rtvi: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.offer_sent_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
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
            data = parsed.get("data") or {}
            if parsed.get("type") == "server-message" and data.get("type") == "transcript":
                self.messages.append(data)

    def send_rtvi(self, kind: str, data: dict[str, Any], id: str = "peer") -> None:
        """Send one RTVI message (`client-ready`, ...) as pipecat's client SDK does."""
        self.channel.send(json.dumps({"label": "rtvi-ai", "type": kind, "id": id, "data": data}))

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().reshape(-1)
                if len(frame.layout.channels) == 2:
                    samples = samples[::2]
                if frame.sample_rate != RATE:
                    continue
                self.received.append((time.monotonic(), samples.astype(np.int16)))

    async def connect(self, client: httpx.AsyncClient, room_url: str, token: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        room = room_url.rsplit("/", 1)[1]
        self.offer_sent_at = time.monotonic()
        response = await client.post(
            f"/api/v1/rooms/{room}/offer",
            json={"sdp": self.pc.localDescription.sdp, "type": "offer"},
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        answer = response.json()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

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
        ice = self.pc.getTransceivers()[0].sender.transport.transport
        # aioice keeps the nominated pair per component, and says so nowhere public.
        pair = ice._connection._nominated[1]
        return pair.local_candidate.type, pair.remote_candidate.type

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

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 samples."""
    if not len(samples):
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
