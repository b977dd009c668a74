"""Our jitter buffer and concealment in an aiortc receiver's place: RTP packets in, PCM out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest
from aiortc.codecs import PCMU_CODEC
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from src.rooms.local import user_audio
from tests.rooms.local.test_concealment import LOST, OUT_RATE, OUT_SAMPLES, _packets

pytestmark = pytest.mark.once

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48_000, channels=2, payloadType=111)
CODECS = {111: OPUS, 0: PCMU_CODEC}


def _rtp(sequence: int, payload: bytes, ssrc: int = 1234, payload_type: int = 111) -> RtpPacket:
    packet = RtpPacket(
        payload_type=payload_type,
        sequence_number=sequence & 0xFFFF,
        timestamp=(sequence * 960) & 0xFFFFFFFF,
        ssrc=ssrc,
        payload=payload,
    )
    packet._data = payload  # type: ignore[attr-defined]  # as the receiver depayloads it
    return packet


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "the held packets were never released"
        await asyncio.sleep(0.01)


class Collected:
    def __init__(self) -> None:
        self.chunks: list[tuple[bytes, int]] = []

    def __call__(self, pcm: bytes, timestamp: int) -> None:
        self.chunks.append((pcm, timestamp))

    @property
    def samples(self) -> int:
        return sum(len(pcm) for pcm, _ in self.chunks) // 2


class Reported(list[tuple[str, str]]):
    def __call__(self, reason: str, detail: str) -> None:
        self.append((reason, detail))


def _jittered(collected: Collected, reported: Reported | None = None) -> user_audio.JitteredOpus:
    return user_audio.JitteredOpus(
        CODECS, collected, OUT_RATE, reported if reported is not None else Reported()
    )


async def test_opus_packets_in_order_are_decoded_one_by_one_and_nothing_goes_to_aiortc() -> None:
    collected = Collected()
    jittered = _jittered(collected)
    packets = _packets(expected_loss=10)
    for sequence, payload in enumerate(packets[:10]):
        assert jittered.add(_rtp(sequence, payload)) == (False, None)
    assert [(len(pcm) // 2, ts) for pcm, ts in collected.chunks] == [
        (OUT_SAMPLES, s * 960) for s in range(10)
    ]


async def test_a_lost_packet_is_recovered_and_the_audio_has_no_hole() -> None:
    collected = Collected()
    jittered = _jittered(collected)
    packets = _packets(expected_loss=10)
    for sequence, payload in enumerate(packets):
        if sequence != LOST:
            jittered.add(_rtp(sequence + 65_500, payload))  # across the wrap-around
    # All came at once: those after the gap wait (at most max_wait) for the lost one.
    await _until(lambda: jittered.buffer.depth == 0)
    assert collected.samples == len(packets) * OUT_SAMPLES
    assert jittered.decoder.stats.recovered == 1
    assert jittered.buffer.depth == 0


async def test_a_gap_with_no_packet_after_it_is_released_by_the_timer() -> None:
    collected = Collected()
    jittered = _jittered(collected)
    packets = _packets(expected_loss=10)
    jittered.add(_rtp(0, packets[0]))
    jittered.add(_rtp(2, packets[2]))  # 1 is missing, and nothing comes after 2
    assert collected.samples == OUT_SAMPLES
    await _until(lambda: collected.samples == 3 * OUT_SAMPLES)
    assert jittered.buffer.stats.lost == 1


async def test_another_codec_keeps_aiortcs_buffer() -> None:
    collected = Collected()
    jittered = _jittered(collected)
    frames = [jittered.add(_rtp(s, b"\xff" * 160, payload_type=0)) for s in range(8)]
    # aiortc's buffer: its 4-frame prefetch, then a frame per packet.
    assert [f is not None for _, f in frames] == [False] * 4 + [True] * 4
    assert not collected.chunks


async def test_a_new_stream_starts_afresh() -> None:
    collected = Collected()
    jittered = _jittered(collected)
    packets = _packets(expected_loss=0)
    for sequence in range(5):
        jittered.add(_rtp(1000 + sequence, packets[sequence]))
    for sequence in range(5):  # another SSRC, numbered from 7: not "late", not a gap
        jittered.add(_rtp(7 + sequence, packets[5 + sequence], ssrc=99))
    assert collected.samples == 10 * OUT_SAMPLES
    assert jittered.buffer.stats.late == 0
    decoded = np.frombuffer(b"".join(pcm for pcm, _ in collected.chunks), np.int16)
    assert len(decoded) == 10 * OUT_SAMPLES


async def test_empty_oversized_and_corrupt_packets_are_reported_and_their_places_concealed() -> (
    None
):
    collected, reported = Collected(), Reported()
    jittered = _jittered(collected, reported)
    packets = _packets(expected_loss=10)
    packets[10], packets[11], packets[12] = b"", bytes(1300), b"\xff\xff\xff"
    for sequence, payload in enumerate(packets[:30]):
        jittered.add(_rtp(sequence, payload))
    await _until(lambda: jittered.buffer.depth == 0)
    assert [reason for reason, _ in reported] == ["empty", "oversized", "corrupt"]
    # Every place gave 20 ms: the two never read are concealed as lost, the corrupt one too.
    assert collected.samples == 30 * OUT_SAMPLES
    assert jittered.buffer.stats.lost == 2
    assert jittered.decoder.stats.corrupted == 1


CORRUPT = b"\xff\xff\xff"  # libopus: "corrupted stream"
# Over any one Opus frame, within what SRTP over UDP carries.
OVERSIZED = bytes(1300)


async def test_bad_packets_are_concealed_or_ignored_never_raised() -> None:
    """A corrupt packet is concealed by the decoder, an empty or oversized one is never read
    (its place concealed as a lost packet's); each is reported, and the voice goes on after."""
    collected, reported = Collected(), Reported()
    jittered = _jittered(collected, reported)
    good = _packets(expected_loss=0)
    stream = good[:10] + [CORRUPT] * 5 + [b"", OVERSIZED] + good[10:]
    for sequence, payload in enumerate(stream):
        assert jittered.add(_rtp(sequence, payload)) == (False, None)
    await _until(lambda: jittered.buffer.depth == 0)
    assert [reason for reason, _ in reported] == ["corrupt"] * 5 + ["empty", "oversized"]
    # Every packet's 20 ms is there: decoded, or concealed where it could not be.
    assert collected.samples == len(stream) * OUT_SAMPLES
    # The voice goes on after the bad packets: the decoder still decodes.
    pcm = np.frombuffer(b"".join(pcm for pcm, _ in collected.chunks), np.int16)
    tail = pcm[-10 * OUT_SAMPLES :].astype(np.float64)
    head = pcm[: 10 * OUT_SAMPLES].astype(np.float64)
    assert np.sqrt(np.mean(tail**2)) > 0.3 * np.sqrt(np.mean(head**2))


async def test_it_knows_how_long_nothing_has_come() -> None:
    jittered = _jittered(Collected())
    await asyncio.sleep(0.05)
    assert jittered.silent_for() >= 0.05  # counted from its creation before any packet
    jittered.add(_rtp(0, _packets(expected_loss=0)[0]))
    assert jittered.silent_for() < 0.05
    await asyncio.sleep(0.05)
    jittered.add(_rtp(0, b"\xff" * 160, payload_type=0))  # any codec's packet counts
    assert jittered.silent_for() < 0.05
