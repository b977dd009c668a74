"""Issue 20's load users, talking users that cost the load generator almost nothing, and the
bench's search for the ceiling of simultaneous conversations (`next_level`) and what one more
load user costs, read off the search's steps (`load_user_cost`).

A test peer (`tests/voice/peer.Peer`) encodes its microphone in aiortc's encoder thread and
decodes, resamples and keeps every packet of the bot's speech: about 5 % of a core each here,
on the cores the server needs. A `LoadUser` instead:
- sends pre-encoded Opus (each question encoded once for every user, `Phrases`), and between
  questions the packets of silence a browser sends, 50 a second;
- is sent, with every other user, by one shared 20 ms `Ticker`: on each beat it hands each
  user's next packet, behind a plain RTP header, to the connection's SRTP transport (`RtpOut`),
  one task for all users and nothing of aiortc's sender per packet (at 40 users the load
  generator took 14 % of a core this way, 27 % through aiortc's sender, 2026-12-07);
- does not decode the bot's audio, nor decrypt or parse it: each RTP datagram its connection
  receives is noted (its arrival time) and dropped as it comes off the socket (`on_rtp`). The
  bot sends nothing while silent, so the first packet after a gap is the start of its speech:
  that times the greeting and each answer.

The bench's ceiling-light part (`bench/run.py`) runs these beside a `Canary`, a load user that
also keeps the bot's transcript and its speech's packets; after each step its answer's text is
checked and its speech decoded and transcribed, so that the answers are known to be still right
without paying a full peer's decoding while the step is measured.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import fractions
import itertools
import json
import logging
import random
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import av
import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import is_rtcp

from src.compat.aiortc_wire import ice_connection, on_rtp_packet, rtp_sender
from tests.kit.rooms import post_offer, transcript_line

logger = logging.getLogger(__name__)

# 20 ms of 48 kHz audio: an Opus packet's duration and timestamp step.
PTIME = 0.02
SAMPLES_48K = 960
# The bot's speech is a packet every 20 ms; a gap longer than this is a silence between lines.
GAP = 0.25
# What a canary's player holds of the bot's speech before it plays (a browser's jitter buffer
# holds about this on a clean link): a packet up to this late is heard on time.
PLAYOUT_DELAY = 0.06


class Ticker:
    """One 20 ms clock for every load user's microphone: on each beat it sends each `RtpOut`
    added (`add`) its next packet, one after another in its own task (one wake-up a beat for all
    users, not one each); `tick()` waits for the next beat."""

    def __init__(self, period: float = PTIME) -> None:
        self._period = period
        self._beat: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._outs: dict[RtpOut, None] = {}  # in the order added
        self.errors: list[str] = []  # what stopped an `RtpOut` other than its connection closing
        self.beats = 0
        # The most a beat came after its time (s) since `start` or `measure_lateness`: a loaded
        # load generator sends its users' packets late, bunched, as a congested phone would.
        self.late_max = 0.0

    def measure_lateness(self) -> None:
        """Count the beats' lateness from now on."""
        self.late_max = 0.0

    def add(self, out: RtpOut) -> None:
        """Send `out`'s packets on each beat, until it closes or is removed."""
        self._outs[out] = None

    def remove(self, out: RtpOut) -> None:
        """Stop sending `out`'s packets."""
        self._outs.pop(out, None)

    def start(self) -> None:
        """Begin beating (on the running loop)."""
        self._beat = asyncio.get_running_loop().create_future()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self._period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.late_max = max(self.late_max, loop.time() - next_at)
            beat, self._beat = self._beat, loop.create_future()
            self.beats += 1
            if beat is not None and not beat.done():
                beat.set_result(None)
            for out in list(self._outs):
                try:
                    sending = await out.send()
                except Exception as exc:  # one user's fault must not silence every other
                    self.errors.append(repr(exc))
                    logger.warning("the ticker stopped sending for a load user: %r", exc)
                    sending = False
                if not sending:
                    self.remove(out)

    async def tick(self) -> None:
        """Wait for the next beat."""
        if self._beat is None:
            raise RuntimeError("the ticker has not started")
        await asyncio.shield(self._beat)

    async def close(self) -> None:
        """Stop beating."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def encode(audio: np.ndarray, rate: int = 48_000) -> list[bytes]:
    """Mono 16-bit `audio` at `rate` as Opus payloads, one per 20 ms: padded to whole packets,
    and by two more, which push the encoder's resampler delay out."""
    encoder = OpusEncoder()
    step = int(rate * PTIME)
    tail = np.zeros(-len(audio) % step + 2 * step, np.int16)
    padded = np.concatenate([audio, tail]).astype(np.int16)
    payloads: list[bytes] = []
    for start in range(0, len(padded), step):
        frame = av.AudioFrame.from_ndarray(
            padded[start : start + step].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = fractions.Fraction(1, rate)
        encoded, _timestamp = encoder.encode(frame)
        payloads.extend(encoded)
    return payloads


class Phrases:
    """The questions (and silence) encoded once, shared by every load user."""

    def __init__(self, questions: Iterable[np.ndarray], rate: int = 48_000) -> None:
        audio = list(questions)
        self.questions = [encode(q, rate) for q in audio]
        # How many packets of each hold its words (the rest is the silence after them).
        self.words = [_packets_to_last_sound(q, rate) for q in audio]
        self.silence = encode(np.zeros(int(rate * PTIME), np.int16), rate)[-1]


def _packets_to_last_sound(audio: np.ndarray, rate: int, level: int = 500) -> int:
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > level)
    end = int(loud[-1]) + 1 if len(loud) else 0
    return -(-end // int(rate * PTIME))


class PacketTrack(MediaStreamTrack):  # type: ignore[misc]
    """A microphone of pre-encoded Opus packets: silence, or the phrase queued by `say`. The
    ticker takes its packets (`next_payload`, through `RtpOut`); aiortc's own sender never gets
    one (`recv` waits until the track stops), so it neither packs nor times a packet."""

    kind = "audio"

    def __init__(self, silence: bytes) -> None:
        super().__init__()
        self.silence = silence
        self._queued: deque[bytes] = deque()
        self._stopped: asyncio.Future[None] | None = None
        self.sent = 0

    def say(self, payloads: list[bytes], words: int | None = None) -> float:
        """Queue a phrase after what is queued; when its first `words` packets (default: all)
        will have been sent (time.monotonic)."""
        ahead = len(self._queued)
        self._queued.extend(payloads)
        return time.monotonic() + (ahead + (len(payloads) if words is None else words)) * PTIME

    def next_payload(self) -> bytes:
        """The next 20 ms to send: the queued phrase's next packet, else silence."""
        self.sent += 1
        return self._queued.popleft() if self._queued else self.silence

    async def recv(self) -> av.Packet:
        """aiortc's sender asks for a packet: none comes (the ticker sends them) until the track
        stops, when aiortc's sender ends as for any track that has ended."""
        if self._stopped is None:
            self._stopped = asyncio.get_running_loop().create_future()
        await self._stopped
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)


_RTP_HEADER = struct.Struct("!BBHII")  # version 2, payload type, sequence, timestamp, SSRC
_SSRC = re.compile(r"^a=ssrc:(\d+) ", re.MULTILINE)
_OPUS = re.compile(r"^a=rtpmap:(\d+) opus/48000", re.MULTILINE | re.IGNORECASE)
_AUDIO_LEVEL = re.compile(
    r"^a=extmap:(\d+) urn:ietf:params:rtp-hdrext:ssrc-audio-level", re.MULTILINE
)


class RtpOut:
    """A load user's microphone sent as RTP by the ticker, straight to the connection's SRTP
    transport, each packet as a browser sends it: the RTP header (the SSRC our offer names, the
    Opus payload type the answer names, sequence and timestamp counting on) and the one header
    extension a browser puts on every audio packet, the audio level (RFC 6464, when the answer
    names it), before the payload; the server parses what it would parse of a browser's. (A
    browser sends the MID extension too, until its first receiver report: the server routes by
    SSRC.) aiortc's sender did more for every packet (an `av.Packet`, its encoder's packing, an
    `RtpPacket` with two NTP clock reads, serialised, and a task woken per user per beat). It
    sends through `RTCDtlsTransport._send_rtp`, a private name of aiortc (`src.compat.aiortc_wire`,
    whose contract test names it if an upgrade drops it)."""

    def __init__(self, pc: RTCPeerConnection, track: PacketTrack) -> None:
        self._pc = pc
        self._track = track
        self._sender = next(s for s in pc.getSenders() if s.track is track)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        # Once negotiated: (the payload type, the SSRC, the first byte, the audio level
        # extension for silence and for speech, or empty ones where the answer names none).
        self._ids: tuple[int, int, int, bytes, bytes] | None = None

    def _negotiated(self) -> tuple[int, int, int, bytes, bytes] | None:
        local, remote = self._pc.localDescription, self._pc.remoteDescription
        if local is None or remote is None:
            return None
        ssrc, opus = _SSRC.search(local.sdp), _OPUS.search(remote.sdp)
        if ssrc is None or opus is None:
            raise RuntimeError("no SSRC in the offer or no Opus in the answer")
        level = _AUDIO_LEVEL.search(remote.sdp)
        if level is None:
            return int(opus.group(1)), int(ssrc.group(1)), 0x80, b"", b""
        # One-byte header form (RFC 8285): the ID, a length of one byte less one, the level:
        # the voice bit and -dBov, 127 for silence, 30 for speech; padded to a 32-bit word.
        tag = int(level.group(1)) << 4
        silent, voiced = (bytes([0xBE, 0xDE, 0, 1, tag, v, 0, 0]) for v in (127, 0x80 | 30))
        return int(opus.group(1)), int(ssrc.group(1)), 0x90, silent, voiced

    async def send(self) -> bool:
        """The track's next packet, once the connection is up; False once it has closed."""
        if self._pc.connectionState == "closed":
            return False
        transport = self._sender.transport
        if transport is None or transport.state != "connected":
            return True  # not up yet: nothing is taken from the track (nor was by aiortc's)
        if self._ids is None:
            self._ids = self._negotiated()
            if self._ids is None:
                return True
        payload_type, ssrc, first, silent, voiced = self._ids
        header = _RTP_HEADER.pack(first, payload_type, self._sequence, self._timestamp, ssrc)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + SAMPLES_48K) & 0xFFFFFFFF
        payload = self._track.next_payload()
        level = silent if payload is self._track.silence else voiced
        try:
            await rtp_sender(transport)(header + level + payload)
        except ConnectionError:
            return False
        return True


class HeardSpeech:
    """The bot's speech as a load user hears it, from its packets' arrival times alone: the
    start of each stretch (the first packet, and each one after a gap of more than `gap` s) is
    kept as it arrives, and whoever waits for one is woken then. Nothing polls (20 users polling
    every 50 ms, each scanning its list of arrivals, cost about 1 % of a core more, 2026-12-07).
    """

    def __init__(self, gap: float = GAP) -> None:
        self._gap = gap
        self.packets = 0
        self.last: float | None = None  # when the latest packet arrived (time.monotonic)
        self.starts: list[float] = []
        self._waiting: list[tuple[float, asyncio.Future[float]]] = []

    def arrived(self, at: float) -> None:
        """A packet of the bot's speech arrived at `at`."""
        if self.last is None or at - self.last > self._gap:
            self.starts.append(at)
            for since, waiter in self._waiting:
                if at >= since and not waiter.done():
                    waiter.set_result(at)
        self.last = at
        self.packets += 1

    def start_after(self, since: float) -> float | None:
        """The first start at or after `since`, if one has arrived."""
        i = bisect.bisect_left(self.starts, since)
        return self.starts[i] if i < len(self.starts) else None

    async def after(self, since: float, within: float) -> float | None:
        """The first start at or after `since`, waited for up to `within` s (None: none)."""
        heard = self.start_after(since)
        if heard is not None:
            return heard
        waiter = asyncio.get_running_loop().create_future()
        entry = (since, waiter)
        self._waiting.append(entry)
        try:
            return await asyncio.wait_for(waiter, within)
        except TimeoutError:
            return None
        finally:
            self._waiting.remove(entry)

    async def quiet(self, seconds: float, within: float) -> None:
        """Return once nothing has arrived for `seconds` (or `within` s have passed): a sleep
        to the moment it would be quiet, again while packets still come."""
        deadline = time.monotonic() + within
        while (now := time.monotonic()) < deadline:
            left = (self.last or 0.0) + seconds - now
            if left <= 0:
                return
            await asyncio.sleep(min(left, deadline - now))


def on_rtp(pc: RTCPeerConnection, arrived: Callable[[float], None]) -> None:
    """`arrived(time.monotonic())` for each RTP datagram the connection receives, taken as it
    comes off the socket and dropped there; everything else (STUN, DTLS, the data channel, RTCP)
    goes on to aiortc as before. Through aiortc, each of the bot's packets was queued, woke the
    DTLS transport's task, was decrypted, parsed and routed to the receiver's handler: at 36
    users asking, the load generator took 18.2 % of a core that way and 14.0 % this way (three
    steps of each, two workers, 2026-12-07), and a packet's arrival is read before the load
    generator's own queue, not after it. The bot's media is not authenticated here (a load
    user's own server, on loopback). It replaces the `data_received` of aioice's `Connection`
    behind `RTCIceTransport._connection` (a private name, `src.compat.aiortc_wire`; aioice's
    `data_received` is named in `tests/test_load.py`); with BUNDLE the first transceiver's
    connection carries everything."""
    connection = ice_connection(pc.getTransceivers()[0].receiver.transport.transport)
    deliver = connection.data_received
    clock = time.monotonic

    def data_received(data: bytes, component: int) -> None:
        if 127 < data[0] < 192 and not is_rtcp(data):
            arrived(clock())
        else:
            deliver(data, component)

    connection.data_received = data_received


class LoadUser:
    """A user's side of a local room that sends pre-encoded speech and does not decode; see the
    module docstring."""

    def __init__(self, ticker: Ticker, phrases: Phrases) -> None:
        self._phrases = phrases
        self.mic = PacketTrack(phrases.silence)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(self.mic)
        ticker.add(RtpOut(self.pc, self.mic))  # dropped by the ticker once the call has closed
        self.channel = self.pc.createDataChannel("chat")
        self.heard = HeardSpeech()
        self.offer_sent_at = 0.0
        self.answer_began = 0.0  # when the last answer `ask` timed began to arrive
        self._pinging: asyncio.Task[None] | None = None
        self._hear_without_decoding()

    def _hear_without_decoding(self) -> None:
        on_rtp(self.pc, self.heard.arrived)

    async def connect(self, client: httpx.AsyncClient, room_url: str, token: str) -> None:
        """Offer through the room's signalling, as the room page does, and ping once a second."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sent_at = time.monotonic()
        response = await post_offer(client, self.pc, room_url, token)
        response.raise_for_status()
        answer = response.json()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

        async def ping() -> None:
            while True:
                if self.channel.readyState == "open":
                    self.channel.send(f"ping: {time.time()}")
                await asyncio.sleep(1.0)

        self._pinging = asyncio.ensure_future(ping())

    async def speech_after(self, since: float, within: float) -> float | None:
        """When the bot's next speech after `since` began to arrive, or None within `within` s."""
        return await self.heard.after(since, within)

    async def quiet(self, seconds: float = 0.5, within: float = 30) -> None:
        """Wait until the bot has sent nothing for `seconds` (the end of what it was saying)."""
        await self.heard.quiet(seconds, within)

    async def ask(self, question: int, within: float = 20) -> float | None:
        """Say the `question`-th phrase; from the end of its words to the first packet of the
        answer."""
        said = self.mic.say(self._phrases.questions[question], self._phrases.words[question])
        started = await self.speech_after(said, within)
        if started is None:
            return None
        self.answer_began = started
        return started - said

    async def close(self) -> None:
        """Hang up."""
        if self._pinging is not None:
            self._pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinging
        await self.pc.close()


class Canary(LoadUser):
    """A load user that also keeps what the bot told and said to it, so that a step's answers
    can be checked as still right once the step has been measured: the bot's transcript lines
    (the RTVI messages the room page shows) and its speech's packets, decoded only when asked
    (`speech_since`), after the step's window. A test peer checking the same live (aiortc's
    encoder and decoder threads, every frame resampled) cost the load generator 5.5 % of a
    core with its bot idle (2026-12-07), a fixed share of every step beside a load user's 0.4 %.
    """

    def __init__(self, ticker: Ticker, phrases: Phrases) -> None:
        super().__init__(ticker, phrases)
        self.lines: list[dict[str, Any]] = []  # the bot's and the user's transcript lines
        self._packets: list[tuple[float, bytes]] = []  # (arrival, Opus payload)
        self.channel.on("message", self._on_message)

    def _hear_without_decoding(self) -> None:
        # The bot's packets decrypted and parsed by aiortc, for their payloads; then not aiortc's
        # handler: no jitter buffer, no decoder thread, no reports (the bot's sender needs none).
        # The same hook as `bench.peers.Packets`.
        on_rtp_packet(
            self.pc.getTransceivers()[0].receiver,
            # The clock the speech is timed by is time.monotonic, not the arrival's ms.
            lambda packet, _arrival_ms: self._arrived(packet, time.monotonic()),
            pass_on=False,
        )

    def _arrived(self, packet: Any, at: float) -> None:
        self.heard.arrived(at)
        self._packets.append((at, packet.payload))

    def _on_message(self, message: str) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            if (line := transcript_line(json.loads(message))) is not None:
                self.lines.append(line)

    def said_since(self, line: int) -> list[str]:
        """The bot's transcript lines from the `line`-th line on."""
        return [m.get("text", "") for m in self.lines[line:] if m.get("role") == "bot"]

    def longest_wait(self, since: float) -> float:
        """The longest wait between two packets of one stretch of the bot's speech arrived from
        `since` on (s): 0.02 where they came at the pace they were sent."""
        times = [at for at, _p in self._packets if at >= since]
        return max((b - a for a, b in itertools.pairwise(times) if b - a <= GAP), default=0.0)

    def speech_since(self, since: float) -> np.ndarray:
        """The bot's speech that arrived from `since` on, decoded: mono 16-bit at 48 kHz, as a
        user whose player holds PLAYOUT_DELAY s of it hears it: each stretch starts that long
        after its first packet, a packet that comes after its turn to be played is preceded by
        the silence heard while it was awaited (and the player waits PLAYOUT_DELAY again), and
        the pause between two stretches is GAP of silence (its length is not the figure)."""
        decoder = OpusDecoder()
        pieces: list[np.ndarray] = []
        previous: float | None = None  # when the packet before arrived
        played_to = 0.0  # when what the player holds runs out
        for at, payload in self._packets:
            if at < since:
                continue
            if previous is None or at - previous > GAP:
                if previous is not None:
                    pieces.append(np.zeros(int(48_000 * GAP), np.int16))
                played_to = at + PLAYOUT_DELAY
            elif at > played_to:
                silence = at + PLAYOUT_DELAY - played_to
                pieces.append(np.zeros(round(48_000 * silence), np.int16))
                played_to += silence
            previous = at
            played_to += PTIME
            for frame in decoder.decode(JitterFrame(data=payload, timestamp=0)):
                pieces.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
        return np.concatenate(pieces).astype(np.int16) if pieces else np.zeros(0, np.int16)


def next_level(
    ok: dict[int, bool], first: int = 4, most: int = 64, resolution: int = 2, grow: float = 2
) -> int | None:
    """The next number of users to try in a ceiling search, given the levels tried so far
    (`ok[n]`: whether n held): multiplied by `grow` from `first` until one fails (or `most`
    holds), then bisected between the highest that held and the lowest that failed; None once
    the ceiling is known to within `resolution`."""
    if not ok:
        return first
    failed = [n for n, good in ok.items() if not good]
    if not failed:
        top = max(ok)
        return None if top >= most else min(max(top + 1, round(top * grow)), most)
    high = min(failed)
    low = max((n for n, good in ok.items() if good and n < high), default=0)
    if high - low <= resolution:
        return None
    return (low + high) // 2


def level_near(ok: dict[int, bool], guess: int, most: int = 64, resolution: int = 2) -> int | None:
    """As `next_level`, for a search with a guess of the ceiling (the worker-scaling part's
    pinned worker: the two workers' ceiling over their ratio): `guess` first, then away from it
    by an eighth of it (`resolution` at least), then by twice as far each time (upwards while
    levels hold, downwards while they fail) until the ceiling is bracketed, then bisected. The
    guesses of 2026-12-07 were 4 to 10 off at 28 to 48: from a first move of `resolution`, such
    a search took five to seven steps, from an eighth four to six; a guess within `resolution`
    takes three."""
    if not ok:
        return max(1, min(guess, most))
    failed = [n for n, good in ok.items() if not good]
    held = [n for n, good in ok.items() if good]
    step = max(resolution, round(guess / 8))
    if not failed:
        top = max(held)
        return None if top >= most else min(top + max(step, top - guess), most)
    high = min(failed)
    if any(n < high for n in held):
        return next_level(ok, resolution=resolution)  # bracketed: bisected as there
    if high <= 1:
        return None  # not even one conversation holds
    return max(1, high - max(step, guess - high))


async def unless_lost(lost: asyncio.Event, jobs: Iterable[Awaitable[object]]) -> bool:
    """Run a ceiling step's `jobs` (its users' questions) side by side until every one has
    ended (True), or until `lost` is set (False): a step with one answer too late has failed
    whatever the rest hear, so the search need not wait for them; those still running are
    cancelled. A job's error is raised."""
    tasks = {asyncio.ensure_future(job) for job in jobs}
    watch = asyncio.ensure_future(lost.wait())
    try:
        running = set(tasks)
        while running and not lost.is_set():
            done, running = await asyncio.wait(
                running | {watch}, return_when=asyncio.FIRST_COMPLETED
            )
            running.discard(watch)
            for task in done - {watch}:
                task.result()
        return not lost.is_set()
    finally:
        for task in (*tasks, watch):
            task.cancel()
        await asyncio.gather(*tasks, watch, return_exceptions=True)


def load_user_cost(steps: list[dict[str, Any]]) -> tuple[float, float] | None:
    """What one more load user costs the load generator, and what it costs with none (the
    canary, the shared ticker, the bench itself), in % of a core: the least-squares
    line through the ceiling search's steps (N - 1 load users each). `load %/user` divides the
    fixed part too, so it overstates a user's cost at low N; None unless the levels span at
    least a third of the largest (two steps two users apart, as a search from a good guess
    makes them, give a line of noise: -0.21 % a user on 2026-12-06)."""
    points = [
        (row["conversations"] - 1, row["load_generator_percent_of_a_core"])
        for row in steps
        if "load_generator_percent_of_a_core" in row
    ]
    levels = {x for x, _ in points}
    if len(levels) < 2 or max(levels) - min(levels) < max(levels) / 3:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    return slope, mean_y - slope * mean_x
