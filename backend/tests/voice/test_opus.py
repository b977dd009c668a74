"""libopus called directly, against aiortc's own (FFmpeg) Opus codec, and the bot's SpeechTrack."""

from __future__ import annotations

import asyncio
import fractions
from types import SimpleNamespace

import av
import numpy as np
import pytest
from aiortc.codecs.opus import OpusDecoder as AiortcDecoder
from aiortc.codecs.opus import OpusEncoder as AiortcEncoder
from aiortc.jitterbuffer import JitterFrame

from src.rooms.local import media, opus
from src.voice_pipeline.audio_stop import UserAudioStop

pytestmark = pytest.mark.once


def _tone(hz: float, rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16)


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_a_browser_like_48k_stereo_stream_decodes_to_16k_mono() -> None:
    encoder, decoder = AiortcEncoder(), opus.Decoder(16_000, 1)
    tone = _tone(300, 48_000, 1.0)
    pcm = []
    for i in range(50):
        frame = av.AudioFrame.from_ndarray(
            tone[i * 960 : (i + 1) * 960].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48_000, i * 960
        frame.time_base = fractions.Fraction(1, 48_000)
        payloads, _ = encoder.encode(frame)
        pcm += [decoder.decode(p) for p in payloads]
    assert {len(p) for p in pcm} == {320 * 2}  # 20 ms at 16 kHz, mono, 16-bit
    decoded = np.frombuffer(b"".join(pcm), np.int16)
    assert _peak_hz(decoded[1600:], 16_000) == pytest.approx(300, abs=3)


def test_our_24k_mono_packets_play_on_a_48k_stereo_receiver() -> None:
    encoder, decoder = opus.Encoder(24_000), AiortcDecoder()
    tone = _tone(440, 24_000, 1.0)
    out = []
    for i in range(50):
        packet = encoder.encode(tone[i * 480 : (i + 1) * 480].tobytes())
        for frame in decoder.decode(JitterFrame(packet, i * 960)):
            assert (frame.sample_rate, frame.samples) == (48_000, 960)
            out.append(frame.to_ndarray().reshape(-1)[::2])
    assert _peak_hz(np.concatenate(out)[4800:], 48_000) == pytest.approx(440, abs=3)


def test_a_refused_call_raises() -> None:
    with pytest.raises(opus.OpusError, match="libopus"):
        opus.Decoder(44_100)  # not a rate Opus decodes at


class _Clock:
    """The track's clock: time passes only when the track waits for a packet's slot, or the
    test says so, so the pacing is checked by what the track does, not by this machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await _real_sleep(0)


_real_sleep = asyncio.sleep


class _AsyncioOn:
    """The asyncio module as media sees it, its `sleep` on the test's clock."""

    def __init__(self, clock: _Clock) -> None:
        self.sleep = clock.sleep

    def __getattr__(self, name: str) -> object:
        return getattr(asyncio, name)


async def test_speech_track_packets_then_hangover_then_nothing_until_speech(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(media, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(media, "asyncio", _AsyncioOn(clock))
    track = media.SpeechTrack(24_000)
    frame = 480 * 2
    done = track.add_audio_bytes(_tone(440, 24_000, 0.2).tobytes())  # 10 packets
    packets = [await track.recv() for _ in range(10 + media.HANGOVER_PACKETS)]
    assert done.done()
    assert [p.pts for p in packets] == [i * 960 for i in range(len(packets))]
    assert all(p.time_base == fractions.Fraction(1, 48_000) for p in packets)
    # The first START_LEAD_PACKETS went at once, every later one waited for its 20 ms slot.
    assert clock.waits == pytest.approx([0.02] * (len(packets) - media.START_LEAD_PACKETS - 1))
    # Silent: no packet comes while there is nothing to say, however long it lasts...
    waiting = asyncio.ensure_future(track.recv())
    for _ in range(20):
        await _real_sleep(0)
    clock.now += 0.5
    for _ in range(20):
        await _real_sleep(0)
    assert not waiting.done()
    # ...and speech after it carries a timestamp advanced by the silent time; its first packets
    # go at once (START_LEAD_PACKETS ahead of the pace, no wait), the rest paced at 20 ms.
    waits, resumed = len(clock.waits), clock.now
    track.add_audio_bytes(bytes(frame * 10))
    first = await waiting
    lead = [await track.recv() for _ in range(media.START_LEAD_PACKETS)]
    assert len(clock.waits) == waits, "a packet of the lead waited for its slot"
    later = [await track.recv() for _ in range(9 - media.START_LEAD_PACKETS)]
    # The wait, less the lead the first utterance ran ahead by (its timeline catches up), to
    # within the one 20 ms slot the skip rounds down to.
    silent = (first.pts - packets[-1].pts) / 48_000
    ahead = media.START_LEAD_PACKETS * media.FRAME_SECONDS
    assert silent == pytest.approx(0.5 - ahead, abs=media.FRAME_SECONDS)
    assert [p.pts - first.pts for p in lead + later] == [960 * (i + 1) for i in range(9)]
    # After the lead, the packets took their 20 ms slots, one after another, not a burst.
    assert clock.waits[waits:] == pytest.approx([0.02] * (len(later) - 1), abs=1e-9)
    assert clock.now - resumed == pytest.approx((len(later) - 1) * 0.02)
    track.stop()


async def test_stopping_the_track_releases_writers() -> None:
    track = media.SpeechTrack(24_000)
    writes = [track.add_audio_bytes(bytes(960 * 2)) for _ in range(5)]
    assert not writes[-1].done()
    track.stop()
    assert all(w.done() for w in writes)


async def test_a_hang_up_releases_the_writers_of_a_live_track() -> None:
    # A connection that goes mid-sentence: the rejoin helper's hook releases the writers, or
    # pipecat writes the output off and a rejoined user hears nothing.
    from src.compat.pipecat_smallwebrtc import release_writes

    track = media.SpeechTrack(24_000)
    writes = [track.add_audio_bytes(bytes(960 * 2)) for _ in range(5)]
    assert not writes[-1].done()
    release_writes(track)
    assert all(w.done() for w in writes)
    assert track.readyState == "live"


async def test_the_users_audio_stops_after_the_user_aggregator() -> None:
    from pipecat.frames.frames import InputAudioRawFrame, TextFrame, UserStartedSpeakingFrame
    from pipecat.tests.utils import run_test

    audio = InputAudioRawFrame(audio=bytes(640), sample_rate=16_000, num_channels=1)
    down, _ = await run_test(
        UserAudioStop(),
        frames_to_send=[audio, UserStartedSpeakingFrame(), TextFrame("hello"), audio],
        expected_down_frames=[UserStartedSpeakingFrame, TextFrame],
    )
    assert not any(isinstance(f, InputAudioRawFrame) for f in down)
