"""The bench's load users (`tests/kit/load.py`) without WebRTC: their packets, their pacing, how
they time the bot's speech, and the ceiling search."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from aiortc import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from src.compat.aiortc_wire import ice_connection, queued_datagrams
from tests.kit.load import (
    GAP,
    Canary,
    HeardSpeech,
    LoadUser,
    PacketTrack,
    Phrases,
    RtpOut,
    Ticker,
    encode,
    level_near,
    load_user_cost,
    next_level,
    unless_lost,
)
from tests.kit.processes import Proc, pinned

pytestmark = pytest.mark.once


def _search(ceiling: int, first: int = 4, most: int = 64) -> tuple[int, list[int]]:
    ok: dict[int, bool] = {}
    while (n := next_level(ok, first, most)) is not None:
        ok[n] = n <= ceiling
    return max((n for n, good in ok.items() if good), default=0), list(ok)


@pytest.mark.parametrize("ceiling", [0, 1, 3, 7, 10, 15, 21, 33, 63, 64, 100])
def test_the_ceiling_search_finds_it_to_within_two_in_few_steps(ceiling: int) -> None:
    found, tried = _search(ceiling)
    assert found <= ceiling
    assert found == min(ceiling, 64) or ceiling - found < 2, tried
    assert len(tried) <= 9, tried  # stepping through 1..64 would take up to 64


def test_the_search_doubles_then_bisects() -> None:
    assert _search(21)[1] == [4, 8, 16, 32, 24, 20, 22]


def test_a_search_from_its_top_level_bisects_below_it_only_when_it_fails() -> None:
    # The idle part's stutter search (bench/idle.py): the top level first, levels below it only
    # when it fails, to within 5.
    def search(ceiling: int) -> list[int]:
        ok: dict[int, bool] = {}
        while (n := next_level(ok, 30, 30, 5)) is not None:
            ok[n] = n <= ceiling
        return list(ok)

    assert search(30) == [30]
    assert search(25) == [30, 15, 22, 26]
    assert search(3) == [30, 15, 7, 3]


def _search_near(ceiling: int, guess: int, most: int = 64) -> tuple[int, list[int]]:
    ok: dict[int, bool] = {}
    while (n := level_near(ok, guess, most)) is not None:
        ok[n] = n <= ceiling
    return max((n for n, good in ok.items() if good), default=0), list(ok)


@pytest.mark.parametrize("guess", [1, 10, 24, 39, 64])
@pytest.mark.parametrize("ceiling", [0, 1, 3, 7, 21, 36, 38, 39, 40, 44, 63, 64, 100])
def test_a_search_from_a_guess_finds_the_ceiling_to_within_two(ceiling: int, guess: int) -> None:
    found, tried = _search_near(ceiling, guess)
    assert found <= ceiling
    assert found == min(ceiling, 64) or ceiling - found < 2, tried
    assert len(tried) <= 11, tried


def test_a_good_guess_takes_fewer_steps_than_doubling() -> None:
    # The pinned worker of 2026-12-06 (held 39, failed at 40) beside two workers' 62: doubling
    # from 24 took 24, 48, 36, 42, 39, 40; from 62 / 1.6 = 39 the search brackets it at once.
    assert _search_near(39, 39) == (39, [39, 44, 41])
    assert len(_search(39, 24)[1]) == 6


def test_a_guess_some_way_off_moves_by_an_eighth_of_it_then_twice_as_far() -> None:
    # 2026-12-07's guesses were 4 to 10 off: moving by 2, 2, 4, 8 from them took five to seven
    # steps (50 to 44: 50, 48, 46, 42, 44; 38 to 48: 38, 40, 42, 46, 54, 50, 48).
    assert _search_near(44, 50) == (44, [50, 44, 47, 45])
    assert _search_near(48, 38) == (48, [38, 43, 48, 58, 53, 50])
    assert _search_near(32, 28) == (32, [28, 32, 36, 34])
    assert _search_near(28, 34) == (28, [34, 30, 26, 28])


def test_the_load_user_search_grows_by_half_from_24() -> None:
    ok: dict[int, bool] = {}
    while (n := next_level(ok, 24, 64, grow=1.5)) is not None:
        ok[n] = n <= 30
    assert list(ok) == [24, 36, 30, 33, 31]  # doubling: 24, 48, 36, 30, 33, 31
    ok = {}
    while (n := next_level(ok, 2, 16, grow=1.5)) is not None:  # --quick: from 2, at most 16
        ok[n] = True
    assert list(ok) == [2, 3, 4, 6, 9, 14, 16]


def test_a_load_users_cost_is_the_slope_through_the_steps_not_the_average() -> None:
    # 10 % with no load user (the canary, the ticker), 0.5 % a user on top: the average per
    # user at 12 conversations (19 / 12 = 1.6 %) hides a cost three times smaller.
    steps = [
        {"conversations": n, "load_generator_percent_of_a_core": 10 + 0.5 * (n - 1) + noise}
        for n, noise in ((12, 0.3), (18, -0.3), (24, 0.0))
    ]
    slope, fixed = load_user_cost(steps)  # type: ignore[misc]
    assert slope == pytest.approx(0.5, abs=0.05)
    assert fixed == pytest.approx(10, abs=1)
    assert load_user_cost(steps[:1]) is None
    # Two steps close together (a search from a good guess): too narrow for a line.
    close = [
        {"conversations": n, "load_generator_percent_of_a_core": y}
        for n, y in ((28, 29.0), (30, 28.5))
    ]
    assert load_user_cost(close) is None
    assert load_user_cost([{"conversations": 4}, {"conversations": 8}]) is None


def test_speech_is_timed_from_the_first_packet_after_a_gap() -> None:
    heard = HeardSpeech(gap=0.25)
    greeting = [1.0 + 0.02 * i for i in range(100)]  # 2 s of speech from t=1
    answer = [6.0 + 0.02 * i for i in range(50)]
    for at in greeting + answer:
        heard.arrived(at)
    assert heard.starts == [1.0, 6.0]
    assert heard.packets == 150
    assert heard.last == pytest.approx(6.98)
    assert heard.start_after(0.0) == 1.0
    assert heard.start_after(3.0) == 6.0
    assert heard.start_after(6.5) is None
    # A packet late by less than the gap is no new line.
    late = HeardSpeech(gap=0.25)
    for at in (1.0, 1.02, 1.2, 1.22):
        late.arrived(at)
    assert late.starts == [1.0]


async def test_a_wait_for_speech_is_woken_by_its_first_packet_not_by_polling() -> None:
    heard = HeardSpeech(gap=0.25)
    heard.arrived(time.monotonic())  # the greeting
    since = time.monotonic()
    waiting = asyncio.ensure_future(heard.after(since, within=5))
    await asyncio.sleep(0.05)
    heard.arrived(time.monotonic())  # 50 ms later: the greeting still, no new start
    await asyncio.sleep(0.4)
    assert not waiting.done()
    answer = time.monotonic()
    heard.arrived(answer)  # after a gap: the answer
    assert await asyncio.wait_for(waiting, 0.1) == answer
    # One already heard is returned at once; none within the wait is None.
    assert await heard.after(since, within=0) == answer
    assert await heard.after(time.monotonic(), within=0.05) is None


async def test_quiet_returns_once_nothing_has_arrived_for_the_time_asked() -> None:
    heard = HeardSpeech()
    began = time.monotonic()
    await heard.quiet(0.5, within=5)  # nothing ever arrived: quiet at once
    assert time.monotonic() - began < 0.1

    async def speak() -> None:
        for _ in range(15):  # 0.3 s of packets
            heard.arrived(time.monotonic())
            await asyncio.sleep(0.02)

    speaking = asyncio.ensure_future(speak())
    await asyncio.sleep(0.01)
    await heard.quiet(0.2, within=5)
    assert speaking.done()
    assert heard.last is not None
    assert time.monotonic() - heard.last >= 0.2
    # A bot that never stops: `within` bounds the wait.
    heard.arrived(time.monotonic() + 10)
    began = time.monotonic()
    await heard.quiet(0.2, within=0.1)
    assert 0.09 <= time.monotonic() - began < 0.5


def test_a_phrase_is_encoded_once_as_20_ms_opus_packets_that_decode_to_it() -> None:
    rate = 16_000
    t = np.arange(rate) / rate
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)  # 1 s
    payloads = encode(tone, rate)
    assert 50 <= len(payloads) <= 52
    decoder = OpusDecoder()
    decoded = [
        frame.to_ndarray().reshape(-1)
        for payload in payloads
        for frame in decoder.decode(JitterFrame(data=payload, timestamp=0))
    ]
    loud = np.concatenate(decoded).astype(np.float64)
    assert np.sqrt(np.mean(loud[len(loud) // 4 :] ** 2)) > 2000  # the tone came through
    # A question's words end before the second of silence that follows them.
    phrases = Phrases([np.concatenate([tone, np.zeros(rate, np.int16)])], rate)
    assert phrases.words == [50]
    assert len(phrases.questions[0]) >= 100
    silence = encode(np.zeros(rate // 50, np.int16), rate)
    assert silence
    assert len(silence[-1]) < 10  # what a browser sends between words


class _Transport:
    """An SRTP transport as `RtpOut` sees it: its state and the packets it was given."""

    def __init__(self) -> None:
        self.state = "new"
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        if self.state != "connected":
            raise ConnectionError("not connected")
        self.sent.append(data)


def _connection(transport: _Transport, track: PacketTrack) -> SimpleNamespace:
    offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96 0\r\na=ssrc:3735928559 cname:x\r\n"
    answer = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    )
    sender = SimpleNamespace(track=track, transport=transport)
    return SimpleNamespace(
        connectionState="connected",
        localDescription=SimpleNamespace(sdp=offer),
        remoteDescription=SimpleNamespace(sdp=answer),
        getSenders=lambda: [sender],
    )


_EXTENSIONS = HeaderExtensionsMap()
_EXTENSIONS.configure(
    RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")
        ]
    )
)


async def test_the_ticker_sends_each_users_phrase_then_silence_as_rtp_on_one_beat() -> None:
    ticker = Ticker()
    ticker.start()
    try:
        first, second = PacketTrack(b"\xf8"), PacketTrack(b"\xf8")
        said_by = first.say([b"a", b"b"])
        assert said_by == pytest.approx(time.monotonic() + 0.04, abs=0.01)
        assert first.say([], words=0) == pytest.approx(said_by, abs=0.01)  # after what is queued
        up, down = _Transport(), _Transport()
        pc = _connection(up, first)
        outs = [RtpOut(pc, first), RtpOut(_connection(down, second), second)]  # type: ignore[arg-type]
        for out in outs:
            ticker.add(out)
        await asyncio.sleep(0.06)
        assert up.sent == []  # nothing is sent, nor taken, before the connection is up
        assert first.sent == 0
        up.state = down.state = "connected"
        for _ in range(3):
            await ticker.tick()
        assert len(up.sent) == 3  # a packet a beat
        packets = [RtpPacket.parse(p, _EXTENSIONS) for p in up.sent[:3]]
        assert [p.payload for p in packets] == [b"a", b"b", b"\xf8"]
        # As a browser's: the answer's Opus payload type, the offer's SSRC, the sequence counting
        # by one and the timestamp by 20 ms of 48 kHz, the audio level on each (silence: -127).
        assert {p.payload_type for p in packets} == {111}
        assert {p.ssrc for p in packets} == {0xDEADBEEF}
        sequence = [p.sequence_number for p in packets]
        assert [(b - a) % 65536 for a, b in zip(sequence, sequence[1:], strict=False)] == [1, 1]
        stamps = [p.timestamp for p in packets]
        assert [(b - a) % 2**32 for a, b in zip(stamps, stamps[1:], strict=False)] == [960, 960]
        assert [p.extensions.audio_level for p in packets] == [(True, 30), (True, 30), (False, 127)]
        # Both users on the same beat: one timer, every user's packet each time.
        assert abs(len(up.sent) - len(down.sent)) <= 1
        # A closed connection is dropped from the ticker; the other goes on.
        pc.connectionState = "closed"
        await asyncio.sleep(0.05)
        sent, other = len(up.sent), len(down.sent)
        await asyncio.sleep(0.06)
        assert len(up.sent) == sent
        assert len(down.sent) > other
        assert ticker.errors == []
        # A loop held up 100 ms: the beat after it comes that late, and the ticker says so.
        ticker.measure_lateness()
        await ticker.tick()
        time.sleep(0.1)  # noqa: ASYNC251 - the loop held up on purpose
        await ticker.tick()
        assert ticker.late_max >= 0.07
        ticker.measure_lateness()
        assert ticker.late_max == 0
    finally:
        await ticker.close()


async def test_aiortcs_own_sender_gets_no_packet_until_the_track_stops() -> None:
    track = PacketTrack(b"\xf8")
    waiting = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiting


async def test_a_load_user_notes_the_bots_rtp_as_it_arrives_and_hands_aiortc_the_rest() -> None:
    """`on_rtp`, on a real aiortc connection with no network: each RTP datagram is timed and
    dropped before aiortc's queue; RTCP and DTLS still reach aiortc. An aioice whose
    `Connection` no longer has `data_received` fails here, by name (the private names on the
    way: `src.compat.aiortc_wire`)."""
    user = LoadUser(Ticker(), Phrases([np.zeros(960, np.int16)]))
    try:
        ice = user.pc.getTransceivers()[0].receiver.transport.transport
        connection = ice_connection(ice)
        assert callable(getattr(type(connection), "data_received", None)), (
            "aioice.Connection.data_received is gone: tests/kit/load.on_rtp replaces it"
        )
        rtp = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=7)
        rtp.payload = b"\xfc" * 40
        before = time.monotonic()
        connection.data_received(rtp.serialize(), 1)
        connection.data_received(rtp.serialize(), 1)
        assert user.heard.packets == 2
        assert len(user.heard.starts) == 1  # two packets 0 s apart: one stretch of speech
        assert user.heard.starts[0] >= before
        report = bytes([0x80, 200, 0, 6]) + bytes(24)  # an RTCP sender report
        dtls = bytes([22, 0xFE, 0xFD]) + bytes(10)  # a DTLS handshake record
        for data in (report, dtls):
            connection.data_received(data, 1)
        # Queued for aiortc's DTLS transport, as aioice queues every datagram that is not STUN
        # (read off the queue: the connection is not up to be read through `recvfrom`).
        assert queued_datagrams(connection) == [(report, 1), (dtls, 1)]
        assert user.heard.packets == 2
    finally:
        await user.close()


async def test_the_bench_pins_a_child_process_and_its_own_threads_to_the_cores_it_names(
    tmp_path: Path,
) -> None:
    """The worker-scaling part's pinning: a child on the cores given, and this process's
    threads (the load generator) on others for a block, then back."""
    everywhere = os.sched_getaffinity(0)
    if len(everywhere) < 2:
        pytest.skip("needs two cores")
    first, second = sorted(everywhere)[:2]
    # The child's threads and children inherit it: a grandchild reports its own.
    probe = "import os, subprocess, sys; subprocess.run([sys.executable, '-c', " + (
        "'import os; print(sorted(os.sched_getaffinity(0)))'])"
    )
    child = Proc([sys.executable, "-c", probe], dict(os.environ), tmp_path / "log", cpus={first})
    assert await child.wait() == 0
    assert child.tail() == f"[{first}]"
    seen: list[set[int]] = []
    with pinned({second}):
        # A thread started inside the block inherits it (the canary's, aiortc's).
        thread = threading.Thread(target=lambda: seen.append(os.sched_getaffinity(0)))
        thread.start()
        thread.join()
        assert seen == [{second}]
        assert {frozenset(os.sched_getaffinity(int(t))) for t in _threads()} == {
            frozenset({second})
        }
    assert {frozenset(os.sched_getaffinity(int(t))) for t in _threads()} == {frozenset(everywhere)}


def _threads() -> list[str]:
    return os.listdir("/proc/self/task")


async def test_a_ceiling_step_runs_its_questions_to_the_end_unless_one_fails() -> None:
    lost = asyncio.Event()
    ended: list[int] = []

    async def question(i: int, seconds: float) -> None:
        await asyncio.sleep(seconds)
        ended.append(i)

    assert await unless_lost(lost, [question(i, 0.01 * i) for i in range(5)])
    assert sorted(ended) == [0, 1, 2, 3, 4]


async def test_a_ceiling_step_stops_at_its_first_late_answer_and_cancels_the_rest() -> None:
    lost = asyncio.Event()
    cancelled: list[int] = []
    began = time.monotonic()

    async def late() -> None:
        await asyncio.sleep(0.05)
        lost.set()

    async def waiting(i: int) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise

    assert not await unless_lost(lost, [late(), *(waiting(i) for i in range(3))])
    assert time.monotonic() - began < 5
    assert sorted(cancelled) == [0, 1, 2]


async def test_a_ceiling_step_lost_before_its_questions_asks_none() -> None:
    lost = asyncio.Event()
    lost.set()
    asked: list[int] = []

    async def question() -> None:
        await asyncio.sleep(0)
        asked.append(1)

    assert not await unless_lost(lost, [question()])
    assert asked == []


async def test_a_question_that_breaks_fails_its_step_with_its_error() -> None:
    async def broken() -> None:
        raise RuntimeError("the peer went away")

    async def waiting() -> None:
        await asyncio.sleep(30)

    with pytest.raises(RuntimeError, match="went away"):
        await unless_lost(asyncio.Event(), [broken(), waiting()])


async def test_a_canary_keeps_the_bots_lines_and_decodes_its_speech_only_when_asked() -> None:
    rate = 48_000
    t = np.arange(rate // 2) / rate
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)  # 0.5 s
    payloads = encode(tone)
    ticker = Ticker()
    canary = Canary(ticker, Phrases([tone]))
    try:
        greeting = [(1.0 + 0.02 * i, p) for i, p in enumerate(payloads)]
        answer = [(5.0 + 0.02 * i, p) for i, p in enumerate(payloads)]
        for at, payload in greeting + answer:
            canary._arrived(SimpleNamespace(payload=payload), at)
        assert canary.heard.starts == [1.0, 5.0]
        # Only the answer, decoded: as long as its packets, the tone in it.
        heard = canary.speech_since(5.0)
        assert len(heard) == len(payloads) * 960
        assert np.sqrt(np.mean(heard[len(heard) // 4 :].astype(np.float64) ** 2)) > 2000
        # Both, with the gap between them kept as GAP of silence.
        assert len(canary.speech_since(0.0)) == 2 * len(payloads) * 960 + int(48_000 * GAP)
        assert len(canary.speech_since(9.0)) == 0
        # A packet 100 ms late is heard after 100 ms of silence (the player runs dry 40 ms
        # before it comes, then holds 60 ms again); one 50 ms late is heard on time (the player
        # held 60 ms).
        stalled = Canary(ticker, Phrases([tone]))
        try:
            for i, payload in enumerate(payloads):
                at = 0.02 * i + (0.1 if i >= 5 else 0)
                stalled._arrived(SimpleNamespace(payload=payload), at)
            for i, payload in enumerate(payloads):
                at = 10 + 0.02 * i + 0.05 * (i >= 5)
                stalled._arrived(SimpleNamespace(payload=payload), at)
            assert len(stalled.speech_since(0.0)) - len(stalled.speech_since(10.0)) == (
                len(payloads) * 960 + 48_000 * 0.1 + 48_000 * GAP
            )
            assert len(stalled.speech_since(10.0)) == len(payloads) * 960
            # The longest wait between two packets of a stretch: the stall's.
            assert stalled.longest_wait(0.0) == pytest.approx(0.12)
            assert stalled.longest_wait(10.0) == pytest.approx(0.07)
            assert canary.longest_wait(0.0) == pytest.approx(0.02)  # the 4 s between: no stall
        finally:
            await stalled.close()

        def line(role: str, text: str) -> str:
            data = {"type": "transcript", "role": role, "text": text}
            return json.dumps({"label": "rtvi-ai", "type": "server-message", "data": data})

        canary._on_message(line("bot", "Hello Ada."))
        canary._on_message("ping: not json")
        canary._on_message(json.dumps({"type": "bot-started-speaking"}))
        canary._on_message(line("user", "What is my life path number?"))
        canary._on_message(line("bot", "Your life path number is 7."))
        assert canary.said_since(0) == ["Hello Ada.", "Your life path number is 7."]
        assert canary.said_since(2) == ["Your life path number is 7."]
    finally:
        await canary.close()
