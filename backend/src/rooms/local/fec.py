"""The bot's speech protected by Opus in-band FEC, sized to the loss the user reports.

Every packet of in-band FEC carries a low-bitrate copy of the packet before it, which a
receiver (a browser's NetEQ) decodes when that packet was lost; libopus takes its bits from the
main encoding, so it is only worth sending when packets are being lost. The user's receiver
tells the sender its loss in RTCP receiver reports; aiortc's sender keeps the latest in its
stats (`remote-inbound-rtp`, `fractionLost` in 1/256). aiortc's own Opus encoder cannot use it
(FFmpeg's, fixed at 96 kbps with no FEC); the bot's `SpeechTrack` encodes with libopus itself,
so `LossFeedback` reads the report now and then and sets the encoder's expected loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from src.rooms.local import opus

# How often the report is read (aiortc's receivers report every 0.5-1.5 s).
INTERVAL_SECONDS = 1.0
# FEC sized for more loss than this takes too much from the speech itself.
MAX_EXPECTED_LOSS = 25


class LossFeedback:
    """Sets an encoder's expected loss from the loss its RTP sender was told of.

    Args:
        sender: the aiortc `RTCRtpSender` the encoder's packets leave by.
        clock: seconds, monotonic.
    """

    def __init__(self, sender: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self._sender = sender
        self._clock = clock
        self._next = 0.0
        self.expected_loss = 0

    async def update(self, encoder: opus.Encoder) -> None:
        """Read the latest report (at most every INTERVAL_SECONDS) and tell the encoder."""
        now = self._clock()
        if now < self._next:
            return
        self._next = now + INTERVAL_SECONDS
        report = await self._sender.getStats()
        lost = [s.fractionLost for s in report.values() if s.type == "remote-inbound-rtp"]
        if not lost:
            return
        percent = min(MAX_EXPECTED_LOSS, round(lost[-1] * 100 / 256))
        if percent != self.expected_loss:
            encoder.set_expected_loss(percent)
            self.expected_loss = percent
