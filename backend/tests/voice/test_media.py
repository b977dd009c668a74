"""The bot's media path over real WebRTC on loopback: what the user's peer receives, packet by
packet, and what the bot's side decodes from the user.

The bot sends 20 ms Opus packets while it speaks and nothing while it is silent; when it speaks
again the RTP timestamp has advanced by the silent time (so a receiver's jitter buffer plays the
next utterance at the right moment) and the packets are paced, not sent in a burst. The user's
speech is decoded straight to 16 kHz mono for the pipeline, 40 ms to a frame.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import soxr
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from src.compat.aiortc_receiver import queues
from src.compat.aiortc_wire import on_rtp_packet
from src.contract.bot import BotJob
from src.core.clock import utcnow
from src.core.settings import Settings
from src.numerology import life_path_number
from src.rooms.local import media
from src.rooms.local.provider import LocalRoomProvider
from src.voice_pipeline import speech
from tests.api.conversation_helpers import start
from tests.conftest import register
from tests.kit.speech import greeting_and_answer
from tests.voice.conftest import numbers_in, synthesise, transcribe
from tests.voice.peer import RATE, Peer, SpeakingTrack

pytestmark = pytest.mark.once

RTP_FRAME = 960  # 20 ms at Opus' 48 kHz RTP clock


@dataclass(frozen=True)
class Packet:
    at: float  # arrival, time.monotonic()
    sequence: int
    timestamp: int


class RecordingPeer(Peer):
    """The user's peer, also logging every RTP packet of the bot's audio as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.packets: list[Packet] = []
        on_rtp_packet(
            self.pc.getTransceivers()[0].receiver,
            lambda packet, _ms: self.packets.append(
                Packet(time.monotonic(), packet.sequence_number, packet.timestamp)
            ),
        )

    def utterances(self, silence: float = 1.0) -> list[list[Packet]]:
        """The packets, split wherever none arrived for `silence` seconds."""
        runs: list[list[Packet]] = []
        for packet in self.packets:
            if runs and packet.at - runs[-1][-1].at < silence:
                runs[-1].append(packet)
            else:
                runs.append([packet])
        return runs


def _offsets(packets: list[Packet]) -> np.ndarray:
    """Each packet's media time minus its arrival time, in seconds.

    A paced sender keeps it constant; a burst raises it (packets ahead of their time); a
    stalled event loop lowers it for the packets it delays, and a sender that skips ahead after
    a stall brings it back.
    """
    return np.array([p.timestamp / RATE - p.at for p in packets])


async def _greeting_and_answer(
    client: httpx.AsyncClient, models: speech.SpeechModels, peer: Peer, birth: date
) -> tuple[str, str]:
    user = await register(client, full_name="Sarah Connor", birth_date=birth)
    body = (await start(client, user["access_token"])).json()
    greeting, answer = await greeting_and_answer(peer, client, body, models)
    return await transcribe(models, greeting), await transcribe(models, answer)


async def test_speech_is_paced_20ms_packets_and_nothing_is_sent_while_silent(
    client: httpx.AsyncClient, models: speech.SpeechModels
) -> None:
    birth = date(1990, 7, 15)
    peer = RecordingPeer()
    greeting, answer = await _greeting_and_answer(client, models, peer, birth)
    assert "sarah" in greeting.lower(), greeting
    assert life_path_number(birth).value in numbers_in(answer), answer

    # No packet lost or reordered on loopback; every packet is 20 ms of media.
    assert np.all(np.diff([p.sequence for p in peer.packets]) == 1)
    steps = np.diff([p.timestamp for p in peer.packets])
    assert np.all(steps > 0)
    assert np.all(steps % RTP_FRAME == 0)
    assert {len(samples) for _, samples in peer.received} == {RATE // 50}
    # Nothing is sent while the bot listens: the greeting's packets, a silence, the answer's.
    utterances = peer.utterances()
    assert len(utterances) >= 2, "the bot kept sending packets between its two utterances"
    greeting_packets, answer_packets = utterances[0], utterances[1]
    silent = answer_packets[0].at - greeting_packets[-1].at
    assert silent > 2.0, f"only {silent:.2f} s without packets between greeting and answer"
    offsets = [_offsets(u) for u in (greeting_packets, answer_packets)]
    for packets, offset in zip((greeting_packets, answer_packets), offsets, strict=True):
        # Paced at 20 ms while speaking...
        pace = float(np.median(np.diff([p.at for p in packets])))
        assert 0.015 < pace < 0.025, f"packets {pace * 1000:.1f} ms apart"
        # ...and never a burst: no packet arrives ahead of its place in media time.
        ahead = float(offset.max() - np.median(offset))
        assert ahead < 0.1, f"a packet came {ahead:.3f} s ahead of its time: a burst"
    # Across the silence the timestamp advanced by the time that passed, so a jitter buffer
    # plays the answer when it arrives (not seconds late, as one that did not advance).
    drift = float(np.median(offsets[1]) - np.median(offsets[0]))
    assert abs(drift) < 0.1, f"the timestamp advanced {drift:+.3f} s off the {silent:.2f} s"
    stalls = [b.at - a.at for a, b in zip(greeting_packets, greeting_packets[1:], strict=False)]
    print(f"\nlongest gap inside the greeting: {max(stalls) * 1000:.0f} ms")


@asynccontextmanager
async def _user_connected(settings: Settings, microphone: SpeakingTrack) -> AsyncIterator[Any]:
    """A local room's bot side and a user's aiortc peer with this microphone, connected to it
    (no bot: the test reads the connection); yields the bot's side of the connection."""
    provider = LocalRoomProvider(settings)
    job = BotJob(
        conversation_id=uuid.uuid4(),
        provider="local",
        room_name=f"conv-{uuid.uuid4()}",
        room_url="http://testserver/rooms/x",
        bot_token="unused",
        expires_at=utcnow() + timedelta(minutes=5),
        user_full_name="Ada Lovelace",
        user_first_name="Ada",
        birth_date=date(1990, 7, 15),
    )
    transport = provider.bot_transport(job)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN server
    pc.addTrack(microphone)
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
        answer = await provider.answer_offer(job.room_name, offer)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        yield await transport.connections.get()
    finally:
        await pc.close()
        await transport.close()


async def test_the_users_speech_is_decoded_at_16k_mono(
    settings: Settings, models: speech.SpeechModels
) -> None:
    mic = SpeakingTrack()
    async with _user_connected(settings, mic) as connection:
        track = connection.audio_input_track()
        question = synthesise(models, "What is my life path number?")
        mic.say(question)
        count = len(question) // 960 // media.INPUT_PACKETS_PER_FRAME
        frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(count)]
    # Two 20 ms packets to a frame: half as many frames for pipecat to carry.
    samples = 320 * media.INPUT_PACKETS_PER_FRAME
    assert {(f.sample_rate, f.layout.name, f.samples) for f in frames} == {
        (16_000, "mono", samples)
    }
    assert np.all(np.diff([f.pts for f in frames]) == samples)
    # What reaches the pipeline is the user's speech: 16 kHz audio the recogniser understands.
    audio16 = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    audio48 = soxr.resample(audio16, 16_000, 48_000)  # what `transcribe` takes
    assert "life path number" in (await transcribe(models, audio48)).lower()


async def test_a_bot_that_falls_behind_keeps_at_most_a_second_of_the_users_audio(
    settings: Settings,
) -> None:
    """A reader slower than real time (a starved bot): the user's decoded audio waiting for it
    stays at most MAX_INPUT_BACKLOG_FRAMES, the oldest frames are the ones dropped, and what the
    reader gets next is the newest second, not audio from ever further in the past."""
    limit = media.MAX_INPUT_BACKLOG_FRAMES
    # The user's microphone: 50 packets a second.
    async with _user_connected(settings, SpeakingTrack()) as connection:
        track = connection.audio_input_track()
        decoder, waiting = queues(connection.pc.getTransceivers()[0].receiver)
        backlog, behind = [], []
        # The reader takes a frame a quarter second (often enough that pipecat's own idle
        # watcher, at 2 s, never clears the track), until 4 s worth of frames have arrived.
        while decoder.received < 4 * limit:
            frame = await asyncio.wait_for(track.recv(), 5)
            backlog.append(waiting.qsize())
            # Frames between this one and the newest (pts count 16 kHz samples).
            newest = waiting._queue[-1].pts if waiting.qsize() else frame.pts
            behind.append((newest - frame.pts) // frame.samples)
            await asyncio.sleep(0.25)
        left = waiting.qsize()
    assert max(backlog) <= limit, backlog
    # Every frame arrived was read, dropped or is still waiting: the oldest were dropped.
    assert decoder.dropped > 0
    assert decoder.received - decoder.dropped - len(backlog) == left
    # Each frame read was at most a second older than the newest (on an unbounded queue the
    # gap grows by 0.23 s a read, to ~3 s by the end).
    assert max(behind) <= limit, behind
