"""The user's audio on its way in: our jitter buffer and concealment in an aiortc receiver.

aiortc's audio receiver puts each RTP packet into its `JitterBuffer(capacity=16, prefetch=4)`,
which discards received packets at a loss and keeps the latency a burst added (issue 19), and
its decoder is never told of a loss. `JitteredOpus` takes that buffer's place in the receiver:
the user's Opus packets go through `jitter.JitterBuffer` (in order at once, a gap waited for
only as long as the measured jitter needs), lost ones are recovered from the next packet's FEC
or concealed (`concealment.ConcealingDecoder`), and the PCM, at the pipeline's rate, goes to
`hand_over`. A timer wakes the buffer at a gap's deadline when no packet comes (one at a time,
at most `max_wait` ahead: nothing to cancel when the receiver stops). Any other codec keeps
aiortc's own buffer and decoder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.jitterbuffer import JitterFrame

from src.compat.aiortc_receiver import replace_jitter_buffer, rtp_payload
from src.rooms.local.concealment import ConcealingDecoder
from src.rooms.local.jitter import JitterBuffer, Played

# Hands PCM (16-bit, mono, at the decoder's rate) and the RTP timestamp of its first sample on.
HandOver = Callable[[bytes, int], None]
# Told (reason, detail) of each packet that cannot be used: "empty", "oversized", "corrupt".
Report = Callable[[str, str], None]
# One Opus frame is at most 1275 bytes (RFC 6716 3.2.1) and browsers send one 20 ms frame a
# packet (20-200 bytes of voice). Larger packets are ignored unread.
MAX_OPUS_PACKET_BYTES = 1275


class JitteredOpus:
    """Stands in for an aiortc audio receiver's jitter buffer (its `add`), for Opus.

    `add` returns what aiortc's buffer returns: (no picture loss, no frame), so the receiver
    queues nothing for its own decoder; for another codec it is aiortc's buffer's answer.

    An empty or oversized packet is never decoded: its place is left a gap, concealed like a
    lost packet's; a corrupt one is concealed by the decoder. Each is reported.

    Args:
        codecs: the receiver's payload types (its codec parameters by payload type).
        hand_over: takes the decoded PCM.
        sample_rate: the PCM's rate.
        report: told of each packet that cannot be used.
    """

    def __init__(
        self,
        codecs: dict[int, Any],
        hand_over: HandOver,
        sample_rate: int,
        report: Report,
    ) -> None:
        self._codecs = codecs
        self._hand_over = hand_over
        self._report = report
        self._others = AiortcJitterBuffer(capacity=16, prefetch=4)
        self._loop = asyncio.get_running_loop()
        self._ssrc: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.buffer = JitterBuffer(self._loop.time)
        self.decoder = ConcealingDecoder(sample_rate, report=report)
        # When the last packet of any kind came (its creation, before the first).
        self.last_packet_at = self._loop.time()

    def silent_for(self) -> float:
        """Seconds since the last packet came (of the user's audio, or any other codec's)."""
        return self._loop.time() - self.last_packet_at

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        """Take one RTP packet (for audio, aiortc leaves its payload as it came: `rtp_payload`)."""
        self.last_packet_at = self._loop.time()
        codec = self._codecs.get(packet.payload_type)
        if codec is None or codec.name.lower() != "opus":
            result: tuple[bool, JitterFrame | None] = self._others.add(packet)
            return result
        if packet.ssrc != self._ssrc:
            # A new stream (the sender restarted): its numbering and timing start afresh.
            if self._ssrc is not None:
                self._play(self.buffer.poll())
                self.buffer = JitterBuffer(self._loop.time)
            self._ssrc = packet.ssrc
        data = rtp_payload(packet)
        if not data or len(data) > MAX_OPUS_PACKET_BYTES:
            self._report("empty" if not data else "oversized", f"{len(data)} bytes")
        else:
            self._play(self.buffer.push(packet.sequence_number, packet.timestamp, data))
        return False, None

    def _play(self, places: Sequence[Played]) -> None:
        if places:
            self._hand_over(self.decoder.decode(places), places[0].timestamp)
        self._wake_at(self.buffer.deadline)

    def _wake_at(self, deadline: float | None) -> None:
        if self._timer is not None:
            if deadline is not None and self._timer.when() == deadline:
                return
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        self._play(self.buffer.poll())


def install(receiver: Any, hand_over: HandOver, sample_rate: int, report: Report) -> JitteredOpus:
    """Put a `JitteredOpus` in place of an aiortc audio receiver's jitter buffer.

    aiortc has no option for it: the receiver's private buffer is replaced before the receiver
    starts (`compat/aiortc_receiver.py`).
    """
    jittered: JitteredOpus = replace_jitter_buffer(
        receiver,
        lambda codecs: JitteredOpus(codecs, hand_over, sample_rate, report),
    )
    return jittered
