"""The bot's encoder sends in-band FEC sized to the loss the user's RTCP reports tell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from src.rooms.local import opus
from src.rooms.local.fec import INTERVAL_SECONDS, LossFeedback
from tests.rooms.local.test_concealment import _voice

pytestmark = pytest.mark.once


@dataclass
class Stats:
    type: str
    fractionLost: float = 0  # noqa: N815  (aiortc's name)


class Sender:
    """aiortc's RTCRtpSender as LossFeedback reads it: `getStats()` and its report."""

    def __init__(self) -> None:
        self.report: dict[str, Any] = {"out": Stats("outbound-rtp")}
        self.reads = 0

    async def getStats(self) -> dict[str, Any]:  # noqa: N802  (aiortc's name)
        self.reads += 1
        return self.report


def _packets(encoder: opus.Encoder, count: int) -> list[bytes]:
    voice = _voice(count * 0.02)[::2]  # 24 kHz, as the bot speaks
    return [encoder.encode(voice[i * 480 : (i + 1) * 480].tobytes()) for i in range(count)]


async def test_fec_follows_the_reported_loss() -> None:
    clock = [0.0]
    sender = Sender()
    feedback = LossFeedback(sender, lambda: clock[0])
    encoder = opus.Encoder(24_000)
    await feedback.update(encoder)  # no report yet: no FEC
    assert not any(opus.has_fec(p) for p in _packets(encoder, 20))

    sender.report["rr"] = Stats("remote-inbound-rtp", fractionLost=26)  # 10 %
    await feedback.update(encoder)  # read at most every INTERVAL_SECONDS: not yet
    assert feedback.expected_loss == 0
    clock[0] += INTERVAL_SECONDS
    await feedback.update(encoder)
    assert feedback.expected_loss == 10
    assert sum(bool(opus.has_fec(p)) for p in _packets(encoder, 20)) > 10

    sender.report["rr"] = Stats("remote-inbound-rtp", fractionLost=0)  # the loss is gone
    clock[0] += INTERVAL_SECONDS
    await feedback.update(encoder)
    assert feedback.expected_loss == 0
    assert not any(opus.has_fec(p) for p in _packets(encoder, 20)[1:])
    assert sender.reads == 3
