"""An aiortc receiver's encoded frames handed to a queue of our own instead of its decoder's.

aiortc decodes in a thread per receiver (48 kHz stereo) and has no option to decode otherwise:
the receiver's private decoder queue is replaced before its decoder thread starts, as pipecat
itself replaces a receiver's jitter buffer. The receiver then `put`s `(codec, JitterFrame)` on
the queue for each complete frame, from the event loop, and None when it stops; its decoder
thread, started on the queue, calls `get` until then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtp import RtpPacket

from src.compat import Private

PRIVATE_NAMES = (
    Private(RTCRtpReceiver, "_RTCRtpReceiver__codecs"),
    Private(RTCRtpReceiver, "_RTCRtpReceiver__jitter_buffer"),
    Private(RTCRtpReceiver, "_RTCRtpReceiver__decoder_queue"),
    Private(RTCRtpReceiver, "_RTCRtpReceiver__decoder_thread"),
    Private(RemoteStreamTrack, "_queue"),
)


def replace_decoder_queue(receiver: RTCRtpReceiver, make: Callable[[Any], Any]) -> Any:
    """Give `receiver` the decoder queue `make(frames)` builds, where `frames` is the asyncio
    queue its track's `recv` reads decoded frames from; returns that queue.

    Raises:
        RuntimeError: the receiver has no track yet, or its decoder has already started.
    """
    if receiver.track is None or receiver._RTCRtpReceiver__decoder_thread is not None:  # type: ignore[attr-defined]
        raise RuntimeError("the audio receiver has no track yet, or has already started")
    queue = make(receiver.track._queue)  # type: ignore[attr-defined]
    receiver._RTCRtpReceiver__decoder_queue = queue  # type: ignore[attr-defined]
    return queue


def replace_jitter_buffer(receiver: RTCRtpReceiver, make: Callable[[dict[int, Any]], Any]) -> Any:
    """Give `receiver` the jitter buffer `make(codecs)` builds (`codecs`: its payload types'
    codecs), in place of aiortc's, before the receiver starts; returns it. The buffer's `add`
    takes each RTP packet (its payload in `rtp_payload(packet)`) and returns
    `(pli_flag, JitterFrame | None)` as aiortc's does."""
    buffer = make(receiver._RTCRtpReceiver__codecs)  # type: ignore[attr-defined]
    receiver._RTCRtpReceiver__jitter_buffer = buffer  # type: ignore[attr-defined]
    return buffer


def queues(receiver: RTCRtpReceiver) -> tuple[Any, Any]:
    """The receiver's decoder queue (ours, once replaced) and the asyncio queue its track's
    `recv` reads decoded frames from: to look into, as a test does."""
    return receiver._RTCRtpReceiver__decoder_queue, receiver.track._queue  # type: ignore[attr-defined]


def rtp_payload(packet: RtpPacket) -> bytes:
    """An audio RTP packet's codec payload (aiortc depayloads only video: for audio its
    private `_data` is the payload itself)."""
    return packet.payload
