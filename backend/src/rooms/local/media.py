"""A lighter WebRTC media path for the bot of a local room (pipecat's SmallWebRTC, aiortc).

What pipecat and aiortc do per connection, and what this module does instead (issue 12):

- Output. pipecat's `RawAudioTrack` hands aiortc a 10 ms frame 100 times a second, silence
  included; aiortc computes each frame's audio level and encodes it in a thread executor (48 kHz
  stereo, 96 kbps). `SpeechTrack` encodes 20 ms packets itself (mono, at the pipeline's output
  rate) and sends nothing while the bot has nothing to say: after a short hangover of silence
  (which also lets a receiver's jitter buffer play out the end of the utterance) it waits, and
  when speech resumes its RTP timestamp has advanced by the silent time and its packets go out
  paced at 20 ms, never as a catch-up burst (only an utterance's first START_LEAD_PACKETS go
  at once, to fill the receiver's jitter buffer). aiortc sends pre-encoded packets as they are
  (no executor hop, no audio level).
- Input. aiortc decodes the user's Opus in a thread per receiver at 48 kHz stereo, and pipecat
  then resamples it to 16 kHz mono. `decode_speech_at_16k` makes the receiver decode on the event
  loop straight to 16 kHz mono (libopus does it natively), so pipecat's reader has nothing to
  resample, and hands it over 40 ms at a time (half as many frames for pipecat to carry).
- Pipeline. `UserAudioStop` (voice_pipeline/audio_stop.py) ends the user's audio frames' trip
  after the user aggregator.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from collections import deque
from typing import Any

import av
import numpy as np
from aiortc.codecs import get_decoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from pipecat.transports.base_transport import TransportParams

from src.compat import aiortc_datagrams
from src.compat.aiortc_receiver import replace_decoder_queue
from src.compat.pipecat_smallwebrtc import AudioTrackTransport
from src.core import metrics
from src.rooms.local import concealment, fec, opus, user_audio

logger = logging.getLogger(__name__)
concealment.advertise_inband_fec()
# An over-long SRTP datagram or an empty one is dropped, not fatal to the receive loop
# (compat/aiortc_datagrams.py).
aiortc_datagrams.install()

# The pipeline's input rate (pipecat's default, which its VAD and recognisers expect).
INPUT_SAMPLE_RATE = 16_000
# The user's 20 ms packets reach the pipeline two at a time, as 40 ms frames: every frame costs
# pipecat the same (a reader, a queue and a task hop per processor, an observer call each) at
# any length, and 40 ms halves that count. The price: the first half of each frame waits 20 ms.
INPUT_PACKETS_PER_FRAME = 2
FRAMES_PER_SECOND = 50  # 20 ms packets
FRAME_SECONDS = 1 / FRAMES_PER_SECOND
RTP_CLOCK_RATE = 48_000  # Opus' RTP clock, whatever the encoded rate
RTP_FRAME = RTP_CLOCK_RATE // FRAMES_PER_SECOND
RTP_TIME_BASE = fractions.Fraction(1, RTP_CLOCK_RATE)
# Silent packets sent after speech before going quiet (200 ms): more than aiortc's jitter
# buffer holds back (4 frames) and enough to bridge a late chunk inside an utterance.
HANGOVER_PACKETS = 10
# A write is done (pipecat then hands over the next one) once no more than this much audio is
# left to send up to its end: pipecat's next chunk then arrives well before the track runs dry,
# even on a loaded event loop, instead of within the last 10 ms as with RawAudioTrack. The
# price: after an interruption up to this much (plus one 40 ms chunk) still plays.
LEAD_PACKETS = 4
# A packet this late (the event loop stalled) is not sent in a catch-up burst: the timeline
# skips ahead instead, as after a silence.
MAX_LATENESS_SECONDS = 0.1
# When speech starts after a silence, this many packets go out at once, ahead of the pace, the
# rest paced 20 ms after them: a receiver's jitter buffer holds back the first few packets of a
# stream before it plays any (aiortc's: until 4 more have come), so the first sound is heard
# that much sooner (80 ms), and the utterance then plays that far ahead of the pace. It is no
# catch-up burst: the packets after it are paced; the lead ends with the utterance.
START_LEAD_PACKETS = 4
# The user's decoded audio waiting for the pipeline's reader, at most (1 s of its frames):
# beyond it the oldest frames are dropped. See `_DecodeOnTheLoop`.
MAX_INPUT_BACKLOG_FRAMES = FRAMES_PER_SECOND // INPUT_PACKETS_PER_FRAME


class SpeechTrack(MediaStreamTrack):
    """The bot's outgoing audio: paced 20 ms Opus packets while it speaks, nothing while silent.

    It keeps the contract of pipecat's `RawAudioTrack`: `add_audio_bytes` takes 16-bit mono PCM
    at `sample_rate` and returns a future done once the track is ready for more (here: when
    at most LEAD_PACKETS of it are left to send).

    Args:
        sample_rate: the PCM's rate (8, 12, 16, 24 or 48 kHz; pipecat's output rate).
    """

    kind = "audio"

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self._frame_bytes = sample_rate * 2 // FRAMES_PER_SECOND
        self._lead_bytes = self._frame_bytes * LEAD_PACKETS
        self._silence = bytes(self._frame_bytes)
        self._encoder = opus.Encoder(sample_rate)
        self._pcm = bytearray()
        self._added = 0  # bytes of PCM added since the start
        self._taken = 0  # and sent
        self._writes: deque[tuple[int, asyncio.Future[bool]]] = deque()
        self._audio = asyncio.Event()
        self._due: float | None = None  # when the next packet goes out (time.monotonic)
        self._pts = 0  # and its RTP timestamp, counted from the first packet
        self._hangover = 0  # silent packets still to send before going quiet
        self._early = START_LEAD_PACKETS  # packets of this utterance to send ahead of the pace
        self._lead = 0  # and those sent so far
        self._held = False  # the user may be speaking over the bot: send nothing for now
        self._released = asyncio.Event()
        self.loss_feedback: fec.LossFeedback | None = None  # sizes the FEC to the user's loss

    def add_audio_bytes(self, audio: bytes) -> asyncio.Future[bool]:
        """Queue PCM to send; the future is done once at most LEAD_PACKETS of it are left."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pcm += audio
        self._added += len(audio)
        self._writes.append((self._added, done))
        self._finish_writes()
        self._audio.set()
        return done

    async def recv(self) -> av.Packet[Any]:
        """The next packet, when it is due; while there is nothing to say, it waits for speech."""
        if self.readyState != "live":
            raise MediaStreamError
        while self._held:
            # Held (the user may be barging in): nothing goes out; what is queued waits.
            self._released.clear()
            await self._released.wait()
            if self.readyState != "live":
                raise MediaStreamError
        if not self._pcm and not self._hangover:
            # Quiet: the pace catches up with the timestamps the lead ran ahead of, and the
            # next utterance starts with a lead of its own.
            if self._due is not None:
                self._due += self._lead * FRAME_SECONDS
            self._lead, self._early = 0, START_LEAD_PACKETS
            await self._speech()
        now = time.monotonic()
        if self._due is None:
            self._due = now
        elif now - self._due > MAX_LATENESS_SECONDS:
            # After a silence (or a stall): the timestamp advances by the time that passed.
            skipped = int((now - self._due) / FRAME_SECONDS)
            self._due += skipped * FRAME_SECONDS
            self._pts += skipped * RTP_FRAME
        if self._early and len(self._pcm) >= self._frame_bytes:
            # The start of an utterance, its audio ready: sent now, the pace not advanced.
            self._early -= 1
            self._lead += 1
        else:
            self._early = 0
            if self._due > now:
                await asyncio.sleep(self._due - now)
            self._due += FRAME_SECONDS
        if self.loss_feedback is not None:
            await self.loss_feedback.update(self._encoder)
        packet: av.Packet[Any] = av.Packet(self._encoder.encode(self._next_pcm()))
        packet.pts = self._pts
        packet.time_base = RTP_TIME_BASE
        self._pts += RTP_FRAME
        return packet

    async def _speech(self) -> None:
        while not self._pcm:
            self._audio.clear()
            await self._audio.wait()
            if self.readyState != "live":
                raise MediaStreamError

    def _next_pcm(self) -> bytes:
        if not self._pcm:
            self._hangover -= 1
            return self._silence
        chunk = bytes(self._pcm[: self._frame_bytes])
        del self._pcm[: self._frame_bytes]
        self._taken += len(chunk)
        self._finish_writes()
        self._hangover = HANGOVER_PACKETS
        # A write that is not a whole number of frames ends padded with silence.
        return chunk.ljust(self._frame_bytes, b"\0")

    def _finish_writes(self, everything: bool = False) -> None:
        upto = self._added if everything else self._taken + self._lead_bytes
        while self._writes and self._writes[0][0] <= upto:
            done = self._writes.popleft()[1]
            if not done.done():
                done.set_result(True)

    def hold(self) -> None:
        """Stop sending at once, keeping what is queued (the user may be speaking over the bot:
        `resume` if it was a backchannel, `cut` if it is a barge-in)."""
        self._held = True

    def resume(self) -> None:
        """Send again what `hold` kept, from where it stopped (the pace restarts now)."""
        self._held = False
        self._released.set()

    def cut(self) -> int:
        """Drop the unsent audio (an interruption) and send again; returns the bytes of PCM
        dropped, never sent, so never heard."""
        dropped = self._drop_unsent()
        self._hangover = 0
        self.resume()
        return dropped

    def _drop_unsent(self) -> int:
        # Dropped audio counts as taken: a later write is done by what is left of it alone
        # (counted as unsent, it would hold every later write back by that much).
        dropped = len(self._pcm)
        self._pcm.clear()
        self._taken += dropped
        self._finish_writes(everything=True)
        return dropped

    @property
    def held(self) -> bool:
        """Whether `hold` stopped the audio and nothing resumed or cut it since."""
        return self._held

    def release_writes(self) -> None:
        """Drop the unsent audio and release its writers (its connection went: nothing will
        send it, and pipecat writes an output off after 10 s of blocked writes)."""
        self._drop_unsent()

    def stop(self) -> None:
        """End the track; writers waiting on unsent audio are released."""
        self.release_writes()
        self._audio.set()
        self._released.set()
        super().stop()


class _DecodeOnTheLoop:
    """Stands in for an aiortc receiver's decoder queue: decodes each frame as it is put.

    The user's Opus never reaches this queue: `user_audio.JitteredOpus`, in the receiver's
    jitter buffer's place, decodes it straight to 16 kHz mono and hands it to `put_pcm`, which
    queues it into the receiver's track in frames of INPUT_PACKETS_PER_FRAME packets. The
    receiver puts `(codec, JitterFrame)` only for another codec, decoded by aiortc's own
    decoder, from the event loop, and None when it stops. aiortc's decoder thread, started on
    this queue, only waits in `get` until the receiver stops, then ends the track as it always
    does.

    The track's queue is bounded at MAX_INPUT_BACKLOG_FRAMES: the oldest frame is dropped to
    make room. On a starved event loop the network side delivers packets in batches while
    pipecat's reader takes one frame per few loop turns, so without a bound the queue grew for
    as long as the starvation lasted (1,900 frames of 20 ms, 38 s of audio, per bot at 20
    calls), the bot listened that far in the past and its VAD worked through all of it. Audio
    over a second old is no use to a live call: the newest second decides whether the user
    speaks.
    `received` and `dropped` count frames, for logs and tests; `unusable` counts packets that
    could not be decoded (corrupt ones are concealed), which never stop the user's audio.
    """

    def __init__(self, frames: asyncio.Queue[Any]) -> None:
        self._frames = frames
        self._others: dict[str, Any] = {}
        self._stopped = threading.Event()
        self._pcm = bytearray()  # decoded, not yet handed over
        self._timestamp = 0  # the RTP timestamp of its first packet
        self.received = 0
        self.dropped = 0
        self.unusable = 0  # packets corrupt, empty, oversized or undecodable

    def put(self, item: tuple[Any, Any] | None) -> None:
        # Called from aiortc's DTLS receive loop: an exception here would end that loop and
        # the bot would hear nothing more for the rest of the call. Whatever a packet holds,
        # it is used, concealed or dropped (and counted), never raised.
        if item is None:
            self._stopped.set()
            return
        codec, encoded = item
        try:
            if codec.name not in self._others:
                self._others[codec.name] = get_decoder(codec)
            frames = self._others[codec.name].decode(encoded)
        except Exception as exc:
            self.drop("undecodable", f"{codec.name}: {exc}")
            return
        for frame in frames:
            self._queue(frame)

    def put_pcm(self, pcm: bytes, timestamp: int) -> None:
        """The user's audio already decoded at INPUT_SAMPLE_RATE (by `user_audio.JitteredOpus`),
        `timestamp` the RTP timestamp of its first sample: handed over in frames as above."""
        frame_bytes = INPUT_SAMPLE_RATE * 2 * INPUT_PACKETS_PER_FRAME // FRAMES_PER_SECOND
        if not self._pcm:
            self._timestamp = timestamp
        self._pcm += pcm
        while len(self._pcm) >= frame_bytes:
            rest, self._pcm = self._pcm[frame_bytes:], self._pcm[:frame_bytes]
            self._hand_over()
            self._pcm = rest
            self._timestamp += RTP_FRAME * INPUT_PACKETS_PER_FRAME

    def drop(self, reason: str, detail: str) -> None:
        metrics.user_audio_packet_dropped(reason)
        self.unusable += 1
        if self.unusable % 100 == 1:  # the first, then every 100th: a flood is not a log flood
            logger.warning(
                "the user's audio: a packet dropped (%s: %s), %d so far",
                reason,
                detail,
                self.unusable,
            )

    def _queue(self, frame: av.AudioFrame) -> None:
        self.received += 1
        while self._frames.qsize() >= MAX_INPUT_BACKLOG_FRAMES:
            self._frames.get_nowait()
            self._frames.task_done()
            self.dropped += 1
            if self.dropped % (10 * MAX_INPUT_BACKLOG_FRAMES) == 1:  # then every 10 s
                logger.warning(
                    "the bot is over %d ms behind the user's audio: %d frames dropped so far",
                    MAX_INPUT_BACKLOG_FRAMES * INPUT_PACKETS_PER_FRAME * 1000 // FRAMES_PER_SECOND,
                    self.dropped,
                )
        self._frames.put_nowait(frame)

    def _hand_over(self) -> None:
        pcm = np.frombuffer(self._pcm, np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = INPUT_SAMPLE_RATE
        frame.pts = self._timestamp * INPUT_SAMPLE_RATE // RTP_CLOCK_RATE
        frame.time_base = fractions.Fraction(1, INPUT_SAMPLE_RATE)
        self._queue(frame)
        self._pcm = bytearray()

    def get(self) -> None:
        self._stopped.wait()


def decode_speech_at_16k(connection: Any) -> user_audio.JitteredOpus:
    """Have a SmallWebRTC connection's audio receiver decode the user's speech at 16 kHz mono.

    Call it once the offer is answered and before the connection is up (the receiver takes its
    decoder queue when it starts; `compat/aiortc_receiver.py`). Returns what now receives the
    user's audio (it knows how long nothing has come).
    """
    receiver = connection.pc.getTransceivers()[0].receiver
    decoder: _DecodeOnTheLoop = replace_decoder_queue(receiver, _DecodeOnTheLoop)
    # Our jitter buffer and loss concealment for the user's Opus (user_audio.py, issue 19).
    return user_audio.install(receiver, decoder.put_pcm, INPUT_SAMPLE_RATE, decoder.drop)


class LocalWebRTCTransport(AudioTrackTransport):
    """pipecat's SmallWebRTC transport, sending the bot's speech as a `SpeechTrack`."""

    def __init__(self, connection: Any) -> None:
        super().__init__(
            webrtc_connection=connection,
            params=TransportParams(
                audio_in_enabled=True,
                audio_in_sample_rate=INPUT_SAMPLE_RATE,
                audio_out_enabled=True,
            ),
        )
        self._speech: SpeechTrack | None = None

    @property
    def speech(self) -> SpeechTrack | None:
        """The bot's outgoing track on the user's current connection (None before the first)."""
        return self._speech

    def audio_track(self, sample_rate: int, connection: Any) -> SpeechTrack:
        """A `SpeechTrack` for a new connection, its FEC sized to the loss the user reports;
        the previous connection's track ends."""
        if self._speech is not None:
            self._speech.stop()
        self._speech = SpeechTrack(sample_rate)
        self._speech.loss_feedback = fec.LossFeedback(connection.pc.getTransceivers()[0].sender)
        return self._speech
