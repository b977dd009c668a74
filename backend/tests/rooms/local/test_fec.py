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
    packetsSent: int = 0  # noqa: N815  (aiortc's names)
    packetsLost: int = 0  # noqa: N815


class Sender:
    """aiortc's RTCRtpSender as LossFeedback reads it: `getStats()`, our packets sent so far,
    and the receiver's last report (a new object for each report, as aiortc makes)."""

    def __init__(self) -> None:
        self.report: dict[str, Any] = {"out": Stats("outbound-rtp")}
        self.reads = 0

    def send(self, packets: int) -> None:
        self.report["out"] = Stats(
            "outbound-rtp", packetsSent=self.report["out"].packetsSent + packets
        )

    def receiver_reports(self, lost: int) -> None:
        """A report of `lost` packets lost in all so far."""
        self.report["rr"] = Stats("remote-inbound-rtp", packetsLost=lost)

    async def getStats(self) -> dict[str, Any]:  # noqa: N802  (aiortc's name)
        self.reads += 1
        return self.report


def _packets(encoder: opus.Encoder, count: int) -> list[bytes]:
    voice = _voice(count * 0.02)[::2]  # 24 kHz, as the bot speaks
    return [encoder.encode(voice[i * 480 : (i + 1) * 480].tobytes()) for i in range(count)]


class Feedback:
    def __init__(self) -> None:
        self.clock = 0.0
        self.sender = Sender()
        self.encoder = opus.Encoder(24_000)
        self.loss = LossFeedback(self.sender, lambda: self.clock)

    async def read(self) -> int:
        self.clock += INTERVAL_SECONDS
        await self.loss.update(self.encoder)
        return self.loss.expected_loss

    def fec_packets(self) -> int:
        return sum(bool(opus.has_fec(p)) for p in _packets(self.encoder, 20)[1:])


async def test_fec_follows_the_reported_loss() -> None:
    f = Feedback()
    assert await f.read() == 0  # no report yet: no FEC
    assert f.fec_packets() == 0

    f.sender.send(100)
    f.sender.receiver_reports(lost=10)  # 10 %
    await f.loss.update(f.encoder)  # read at most every INTERVAL_SECONDS: not yet
    assert f.loss.expected_loss == 0
    assert await f.read() == 10
    assert f.fec_packets() > 10

    # The loss is gone: it counts less as clean speech follows, then leaves the window.
    estimates = []
    for _ in range(5):
        f.sender.send(100)
        f.sender.receiver_reports(lost=10)
        estimates.append(await f.read())
    assert estimates == [5, 4, 3, 2, 0]  # 10 lost of 200, 300, 400, 500 packets, then none
    assert f.fec_packets() == 0
    assert f.sender.reads == 7


async def test_a_report_over_silence_keeps_the_fec() -> None:
    """The bot is silent between answers and a browser reports every few seconds: a report
    that covers few packets (and says none was lost) does not turn the FEC off."""
    f = Feedback()
    f.sender.send(150)
    f.sender.receiver_reports(lost=6)  # 4 %
    assert await f.read() == 4
    f.sender.send(10)  # the end of an answer, then silence
    f.sender.receiver_reports(lost=6)  # fractionLost 0: nothing lost since the last report
    assert await f.read() == 4  # 6 of 160: 3.75 %
    assert await f.read() == 4  # no new report
    f.sender.send(240)  # the next answer
    f.sender.receiver_reports(lost=14)  # 14 of 400
    assert await f.read() == 4
    assert f.fec_packets() > 5


async def test_one_packet_lost_in_a_short_call_turns_fec_on() -> None:
    """A Chromium call at 3 % loss: the page's only report in the call's speech told of 1 lost
    of 179 packets. A link that loses any packet gets FEC, at least for 1 %."""
    f = Feedback()
    f.sender.send(76)
    f.sender.receiver_reports(lost=0)
    assert await f.read() == 0
    f.sender.send(103)
    f.sender.receiver_reports(lost=1)
    assert await f.read() == 1
    assert f.fec_packets() > 5
