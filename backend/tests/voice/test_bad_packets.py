"""Packets of the user's audio that cannot be decoded never deafen the bot (issue 21, item 2).

libopus refuses a corrupt packet ("corrupted stream"); raised from our decoder, the error ended
aiortc's DTLS receive loop and the bot heard nothing more for the rest of the call. Now a
corrupt packet is concealed, an empty or oversized one ignored, each counted (the unit test of
that is `tests/rooms/local/test_user_audio.py`; here the real bot over WebRTC). An empty UDP
datagram, from any address, ended the same loop before it was decrypted (`compat/
aiortc_datagrams.py`): one is sent to the bot's port first.
"""

from __future__ import annotations

import fractions
import socket

import av
import httpx
import pytest
from fastapi import FastAPI

from src.rooms.local import opus
from src.voice_pipeline import speech
from tests.api.conversation_helpers import start
from tests.api.test_metrics import delta, scrape
from tests.conftest import register
from tests.rooms.local.test_user_audio import CORRUPT, OVERSIZED
from tests.voice.peer import FRAME, RATE, Peer, SpeakingTrack
from tests.voice.rejoin_helpers import ask

METRIC = "numerologist_user_audio_packets_dropped_total"


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
        bot = peer.remote_address()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            # From an address of this machine (the bind fails for any other) to the bot's, also
            # this machine's: the datagram never leaves it.
            stranger.bind((bot[0], 0))
            stranger.sendto(b"", bot)
        mic.spoil(*[CORRUPT] * 5, b"", OVERSIZED)
        answer = await ask(peer, models, "What is my life path number?")
    finally:
        await peer.close()
    assert "life path number is" in answer, answer
    after = await scrape(client)
    assert delta(before, after, METRIC, reason="corrupt") == 5
    assert delta(before, after, METRIC, reason="oversized") == 1
