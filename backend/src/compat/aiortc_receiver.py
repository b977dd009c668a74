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

from src.compat import Private

PRIVATE_NAMES = (
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
