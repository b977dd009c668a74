"""Lost packets of the user's audio become sound: in-band FEC when the sender sent it, else PLC."""

from __future__ import annotations

import numpy as np
import pytest

from src.rooms.local import opus
from src.rooms.local.concealment import ConcealingDecoder
from src.rooms.local.jitter import JitterBuffer, Played

pytestmark = pytest.mark.once

RATE = 48_000
OUT_RATE = 16_000
PACKET_SAMPLES = 960
OUT_SAMPLES = 320
LOST = 50


def _voice(seconds: float = 2.0) -> np.ndarray:
    """Voiced speech as libopus' SILK sees it: a gliding 120 Hz pulse train, syllables at 4 Hz."""
    t = np.arange(int(RATE * seconds)) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 2 * t)) / RATE
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 30))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    noise = np.random.default_rng(1).normal(0, 300, len(t))
    return np.asarray(harmonics * envelope * 5000 + noise).astype(np.int16)


def _packets(expected_loss: int) -> list[bytes]:
    """The voice as a browser sends it: 48 kHz, 20 ms packets, FEC sized for `expected_loss`."""
    encoder = opus.Encoder(RATE, expected_loss=expected_loss)
    voice = _voice()
    return [
        encoder.encode(voice[i : i + PACKET_SAMPLES].tobytes())
        for i in range(0, len(voice), PACKET_SAMPLES)
    ]


def _through_the_buffer(packets: list[bytes], drop: set[int]) -> np.ndarray:
    """The packets, `drop` lost, through the jitter buffer and the concealing decoder."""
    clock = [0.0]
    buffer = JitterBuffer(lambda: clock[0])
    decoder = ConcealingDecoder(OUT_RATE)
    pcm = b""
    for sequence, packet in enumerate(packets):
        clock[0] = sequence * 0.02
        if sequence not in drop:
            pcm += decoder.decode(buffer.push(sequence, sequence * PACKET_SAMPLES, packet))
    return np.frombuffer(pcm, np.int16)


def _reference(packets: list[bytes]) -> np.ndarray:
    decoder = opus.Decoder(OUT_RATE)
    return np.frombuffer(b"".join(decoder.decode(p) for p in packets), np.int16)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def _lost_frame(samples: np.ndarray) -> np.ndarray:
    return samples[LOST * OUT_SAMPLES : (LOST + 1) * OUT_SAMPLES]


def test_a_lost_packet_leaves_no_hole_and_fec_recovers_it_better_than_plc() -> None:
    with_fec, without_fec = _packets(expected_loss=10), _packets(expected_loss=0)
    assert opus.has_fec(with_fec[LOST + 1])
    assert not opus.has_fec(without_fec[LOST + 1])

    recovered = _through_the_buffer(with_fec, {LOST})
    concealed = _through_the_buffer(without_fec, {LOST})
    for heard, packets in ((recovered, with_fec), (concealed, without_fec)):
        reference = _reference(packets)
        assert len(heard) == len(reference)  # the timing kept: no packet's place missing
        # Sound where the packet was, not silence.
        assert _rms(_lost_frame(heard)) > 0.5 * _rms(_lost_frame(reference))
    fec_error = _rms(_lost_frame(recovered) - _lost_frame(_reference(with_fec)))
    plc_error = _rms(_lost_frame(concealed) - _lost_frame(_reference(without_fec)))
    assert fec_error < 0.5 * plc_error


def test_the_decoder_counts_what_it_recovered_and_concealed() -> None:
    packets = _packets(expected_loss=10)
    decoder = ConcealingDecoder(OUT_RATE)
    places = [
        Played(0, 0, PACKET_SAMPLES, packets[LOST - 1]),
        Played(1, PACKET_SAMPLES, PACKET_SAMPLES, None),  # the next is here: FEC
        Played(2, 2 * PACKET_SAMPLES, PACKET_SAMPLES, packets[LOST + 1]),
        Played(3, 3 * PACKET_SAMPLES, PACKET_SAMPLES, None),  # nothing after it: PLC
    ]
    pcm = decoder.decode(places)
    assert len(pcm) == 4 * OUT_SAMPLES * 2
    assert (decoder.stats.decoded, decoder.stats.recovered, decoder.stats.concealed) == (2, 1, 1)


def test_a_burst_of_losses_is_concealed_then_recovered_from_the_packet_after_it() -> None:
    packets = _packets(expected_loss=10)
    heard = _through_the_buffer(packets, {LOST, LOST + 1, LOST + 2})
    assert len(heard) == len(_reference(packets))
    burst = heard[LOST * OUT_SAMPLES : (LOST + 3) * OUT_SAMPLES]
    assert min(_rms(burst[i : i + OUT_SAMPLES]) for i in range(0, len(burst), OUT_SAMPLES)) > 100


def test_a_corrupted_packet_is_concealed_and_the_stream_goes_on() -> None:
    packets = _packets(expected_loss=0)
    packets[LOST] = b"\xff\xff\xff"
    decoder = ConcealingDecoder(OUT_RATE)
    places = [Played(i, i * PACKET_SAMPLES, PACKET_SAMPLES, p) for i, p in enumerate(packets)]
    heard = np.frombuffer(decoder.decode(places), np.int16)
    assert len(heard) == len(packets) * OUT_SAMPLES
    assert decoder.stats.corrupted == 1
    assert _rms(heard[-10 * OUT_SAMPLES :]) > 1000  # decoding went on after it


def test_the_encoder_sends_fec_only_when_told_of_loss() -> None:
    voice = _voice(0.4)
    encoder = opus.Encoder(24_000)
    frames = [voice[i : i + PACKET_SAMPLES : 2] for i in range(0, len(voice), PACKET_SAMPLES)]
    assert not any(opus.has_fec(encoder.encode(f.tobytes())) for f in frames[:10])
    encoder.set_expected_loss(10)
    assert any(opus.has_fec(encoder.encode(f.tobytes())) for f in frames[10:])


async def test_our_sdp_answer_asks_the_sender_for_inband_fec() -> None:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from src.rooms.local import media  # noqa: F401  (the bot's media path sets it)

    user, bot = RTCPeerConnection(), RTCPeerConnection()
    try:
        user.addTransceiver("audio", direction="sendrecv")
        await user.setLocalDescription(await user.createOffer())
        # A sender whose offer says nothing about FEC.
        offer = "".join(
            line + "\r\n"
            for line in user.localDescription.sdp.splitlines()
            if not line.startswith("a=fmtp:")
        )
        await bot.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await bot.setLocalDescription(await bot.createAnswer())
        opus_type = next(
            line.split()[0].split(":")[1]
            for line in bot.localDescription.sdp.splitlines()
            if line.startswith("a=rtpmap:") and "opus/48000" in line
        )
        fmtp = [
            line
            for line in bot.localDescription.sdp.splitlines()
            if line.startswith(f"a=fmtp:{opus_type} ")
        ]
        assert len(fmtp) == 1
        assert "useinbandfec=1" in fmtp[0]
    finally:
        await user.close()
        await bot.close()
