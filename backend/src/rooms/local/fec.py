"""The bot's speech protected by Opus in-band FEC, sized to the loss the user reports.

Every packet of in-band FEC carries a low-bitrate copy of the packet before it, which a
receiver (a browser's NetEQ) decodes when that packet was lost; libopus takes its bits from the
main encoding, so it is only worth sending when packets are being lost. The user's receiver
tells the sender its loss in RTCP receiver reports; aiortc's sender keeps the latest in its
stats (`remote-inbound-rtp`: `packetsLost`, cumulative). aiortc's own Opus encoder cannot use it
(FFmpeg's, fixed at 96 kbps with no FEC); the bot's `SpeechTrack` encodes with libopus itself,
so `LossFeedback` reads the report now and then and sets the encoder's expected loss.

The report's `fractionLost` alone cannot be used: it is the loss since the receiver's previous
report, and a browser reports audio every few seconds (Chromium's came 2-8 s apart), while the bot
speaks in answers of a few seconds with silence between (it sends nothing then): a report that
covers mostly silence says 0 % however lossy the link, and FEC went off for the next answer (a
Chromium call at 3 % loss got no FEC at all). So the loss is counted over packets: the packets
lost that the reports tell of, over the packets sent, across the last WINDOW_PACKETS sent (10 s
of speech: a loss goes on counting through silences, and a link that became clean turns FEC
off after that much speech). Any loss seen asks for FEC for at least 1 %: one packet lost in a
few seconds of speech is all a short answer may show of a 3 % link.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from src.rooms.local import opus

# How often the report is read (a browser reports every few seconds, aiortc's receivers every
# 0.5-1.5 s).
INTERVAL_SECONDS = 1.0
# FEC sized for more loss than this takes too much from the speech itself.
MAX_EXPECTED_LOSS = 25
# The loss is counted over about this many of the last packets sent (10 s of speech).
WINDOW_PACKETS = 500


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
        self._lost = 0  # the cumulative loss reported, and our packets sent, at the last report
        self._sent = 0
        self._report: Any = None  # the last report read
        self._window: deque[tuple[int, int]] = deque()  # (lost, sent) between reports
        self.expected_loss = 0

    async def update(self, encoder: opus.Encoder) -> None:
        """Read the latest report (at most every INTERVAL_SECONDS) and tell the encoder."""
        now = self._clock()
        if now < self._next:
            return
        self._next = now + INTERVAL_SECONDS
        stats = list((await self._sender.getStats()).values())
        remote = [s for s in stats if s.type == "remote-inbound-rtp"]
        sent = [s.packetsSent for s in stats if s.type == "outbound-rtp"]
        if not remote or not sent or remote[-1] is self._report:
            return  # no report yet, or no new one
        self._report = remote[-1]
        lost, sent_now = remote[-1].packetsLost, sent[-1]
        self._window.append((max(0, lost - self._lost), sent_now - self._sent))
        self._lost, self._sent = lost, sent_now
        sent_in_window = sum(n for _, n in self._window)
        while len(self._window) > 1 and sent_in_window - self._window[0][1] >= WINDOW_PACKETS:
            sent_in_window -= self._window.popleft()[1]  # the rest still cover the window
        lost_in_window = sum(n for n, _ in self._window)
        share = lost_in_window / sent_in_window if sent_in_window else 0.0
        percent = min(MAX_EXPECTED_LOSS, math.ceil(round(share * 100, 3)))
        if percent != self.expected_loss:
            encoder.set_expected_loss(percent)
            self.expected_loss = percent
