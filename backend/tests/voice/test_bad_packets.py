"""Packets of the user's audio that cannot be decoded never deafen the bot (issue 21, item 2).

libopus refuses a corrupt packet ("corrupted stream"); raised from our decoder, the error ended
aiortc's DTLS receive loop and the bot heard nothing more for the rest of the call. Now a
corrupt packet is concealed, an empty or oversized one ignored, each counted.
"""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from src.voice_pipeline import media, opus, speech
from tests.api.conversation_helpers import start
from tests.api.test_metrics import delta, scrape
from tests.conftest import register
from tests.voice.peer import FRAME, RATE, Peer, SpeakingTrack
from tests.voice.rejoin_helpers import ask

CORRUPT = b"\xff\xff\xff"  # libopus: "corrupted stream"
# Over any one Opus frame, within what SRTP over UDP carries.
OVERSIZED = bytes(1300)
METRIC = "numerologist_user_audio_packets_dropped_total"


class _Encoded:
    """What aiortc's receiver hands its decoder queue: the payload and its RTP timestamp."""

    def __init__(self, data: bytes, timestamp: int) -> None:
        self.data, self.timestamp = data, timestamp


class _Codec:
    name = "opus"


def _speech_packets(seconds: float) -> list[bytes]:
    """20 ms Opus packets of a loud 440 Hz tone, as a browser sends speech."""
    encoder = opus.Encoder(media.INPUT_SAMPLE_RATE)
    samples = media.INPUT_SAMPLE_RATE // media.FRAMES_PER_SECOND
    t = np.arange(int(seconds * media.INPUT_SAMPLE_RATE)) / media.INPUT_SAMPLE_RATE
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    return [encoder.encode(tone[i : i + samples].tobytes()) for i in range(0, len(tone), samples)]


@pytest.mark.once
def test_bad_packets_are_concealed_or_ignored_never_raised() -> None:
    frames: asyncio.Queue[Any] = asyncio.Queue()
    decoder = media._DecodeOnTheLoop(frames)
    good = _speech_packets(0.4)
    stream = good[:10] + [CORRUPT] * 5 + [b"", OVERSIZED] + good[10:]
    for i, data in enumerate(stream):
        decoder.put((_Codec(), _Encoded(data, i * media.RTP_FRAME)))
    assert decoder.unusable == 7
    handed = [frames.get_nowait() for _ in range(frames.qsize())]
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in handed])
    # Every good and every corrupt packet (concealed) gave 20 ms; empty and oversized nothing
    # (the packets go on in frames of INPUT_PACKETS_PER_FRAME).
    per_frame = media.INPUT_PACKETS_PER_FRAME
    assert len(pcm) == (len(good) + 5) // per_frame * per_frame * 320
    # The tone goes on after the bad packets: the decoder still decodes.
    tail = pcm[-10 * 320 :].astype(np.float64)
    assert np.sqrt(np.mean(tail**2)) > 3000


class BadPacketsFirst(SpeakingTrack):
    """The user's microphone, Opus-encoded here: `spoil()` sends the bad packets first."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = opus.Encoder(RATE)
        self._bad: list[bytes] = []

    def spoil(self, *packets: bytes) -> None:
        self._bad += packets

    async def recv(self) -> av.Packet:  # type: ignore[override]
        frame = await super().recv()
        data = (
            self._bad.pop(0)
            if self._bad
            else self._encoder.encode(frame.to_ndarray().reshape(-1).tobytes())
        )
        packet = av.Packet(data)
        packet.pts = frame.pts
        packet.time_base = fractions.Fraction(1, RATE)
        return packet


@pytest.mark.once
async def test_after_corrupt_empty_and_oversized_packets_a_question_is_answered(
    app: FastAPI, client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    assert FRAME == 960
    user = await register(client, full_name="Ada Lovelace")
    body = (await start(client, user["access_token"])).json()
    mic = BadPacketsFirst()
    peer = Peer(mic=mic)
    before = await scrape(client)
    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
        await peer.bot_finished_speaking(after=0)
        mic.spoil(*[CORRUPT] * 5, b"", OVERSIZED)
        answer = await ask(peer, models, "What is my life path number?")
    finally:
        await peer.close()
    assert "life path number is" in answer, answer
    after = await scrape(client)
    assert delta(before, after, METRIC, reason="corrupt") == 5
    assert delta(before, after, METRIC, reason="oversized") == 1
