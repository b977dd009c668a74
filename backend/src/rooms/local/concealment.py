"""The user's Opus packets to continuous PCM: lost packets concealed, or recovered by FEC.

The jitter buffer (`jitter.JitterBuffer`) hands over each place of the stream in order, a lost
one as a place without payload. Here a lost packet becomes audio, never a hole: if the packet
after it is at hand it is decoded from that packet's in-band FEC (browsers send it when our SDP
says `useinbandfec=1`; libopus falls back to concealment when the packet has none), otherwise
libopus' packet loss concealment continues the last sound and fades it. So the VAD, turn
detection and the recogniser hear continuous speech, with the timing of the original.
A packet libopus refuses (corrupted) is concealed as if lost, and the call goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiortc.codecs import CODECS

from src.rooms.local import opus
from src.rooms.local.jitter import Played

logger = logging.getLogger(__name__)

RTP_CLOCK_RATE = 48_000  # Opus' RTP clock, whatever the encoded rate
# libopus conceals in steps of 2.5 ms.
_PLC_STEP_SECONDS = 0.0025


def advertise_inband_fec() -> None:
    """Have our SDP ask senders for Opus in-band FEC (`a=fmtp:<pt> useinbandfec=1`).

    A browser sends FEC only when the far side's fmtp says `useinbandfec=1` (RFC 7587), and
    aiortc's Opus offers none; its answers copy the local codec's parameters, so this one change
    to aiortc's codec list covers offers and answers. The sender then sizes the FEC to the loss
    our RTCP receiver reports tell it.
    """
    for codec in CODECS["audio"]:
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters["useinbandfec"] = 1


@dataclass(slots=True)
class ConcealmentStats:
    """Packets since the start."""

    decoded: int = 0
    recovered: int = 0  # lost, decoded from the next packet's FEC
    concealed: int = 0  # lost (or corrupted), libopus PLC
    corrupted: int = 0


class ConcealingDecoder:
    """Decodes the jitter buffer's output to 16-bit PCM with no holes.

    Args:
        sample_rate: the PCM's rate (8, 12, 16, 24 or 48 kHz).
        channels: 1 or 2.
        report: told ("corrupt", what libopus said) of each corrupt packet (metrics, logs);
            without it a line is logged now and then.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int = 1,
        report: Callable[[str, str], None] | None = None,
    ) -> None:
        self._decoder = opus.Decoder(sample_rate, channels)
        self._rate = sample_rate
        self._report = report
        self.stats = ConcealmentStats()

    def decode(self, places: Sequence[Played]) -> bytes:
        """The PCM of consecutive places of the stream, lost ones filled in."""
        pcm = bytearray()
        for i, place in enumerate(places):
            if place.payload is not None:
                pcm += self._decode(place.payload, place.duration)
                continue
            after = places[i + 1] if i + 1 < len(places) else None
            samples = self._samples(place.duration)
            if after is not None and after.payload is not None:
                recovered = self._recover(after, place.sequence + 1, samples)
                if recovered is not None:
                    pcm += recovered
                    continue
            self.stats.concealed += 1
            pcm += self._decoder.conceal(samples)
        return bytes(pcm)

    def _recover(self, after: Played, sequence: int, samples: int) -> bytes | None:
        """The lost packet from the FEC of the one after it, if that one is next and has some."""
        assert after.payload is not None
        if after.sequence != sequence:
            return None
        try:
            # Unknown (libopus before 1.5): tried, libopus falls back to concealment.
            if opus.has_fec(after.payload) is False:
                return None
            pcm = self._decoder.recover(after.payload, samples)
        except opus.OpusError:
            return None  # a corrupt packet: counted when it is decoded itself
        self.stats.recovered += 1
        return pcm

    def _decode(self, payload: bytes, duration: int) -> bytes:
        try:
            pcm = self._decoder.decode(payload)
        except opus.OpusError as error:
            self.stats.corrupted += 1
            if self._report is not None:
                self._report("corrupt", str(error))
            elif self.stats.corrupted % 100 == 1:  # a stream of them: one line now and then
                logger.warning(
                    "the user's audio: %s (%d so far), concealed", error, self.stats.corrupted
                )
            self.stats.concealed += 1
            return self._decoder.conceal(self._samples(duration))
        self.stats.decoded += 1
        return pcm

    def _samples(self, duration: int) -> int:
        samples = duration * self._rate // RTP_CLOCK_RATE
        step = int(self._rate * _PLC_STEP_SECONDS)
        return max(step, samples - samples % step)
