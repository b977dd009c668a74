"""The user's audio jitter buffer: what comes out, when, and how deep it stays.

Packets are replayed on a fake clock; between arrivals the buffer is polled at its deadline, as
the receiver's timer does. aiortc's own buffer is replayed beside it where it shows the point.
"""

from __future__ import annotations

import random
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import pytest
from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.rtp import RtpPacket

from src.rooms.local.jitter import JitterBuffer, Played

pytestmark = pytest.mark.once

TICKS = 960  # 20 ms at 48 kHz
PACKET = 0.02
BASE_DELAY = 0.05


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Run:
    out: list[tuple[float, Played]] = field(default_factory=list)  # (when, what)
    depth: list[int] = field(default_factory=list)  # after each arrival
    arrivals: dict[int, float] = field(default_factory=dict)

    @property
    def sequences(self) -> list[int]:
        return [p.sequence for _, p in self.out]

    @property
    def lost(self) -> list[int]:
        return [p.sequence for _, p in self.out if p.lost]

    def held_for(self, sequence: int) -> float:
        return next(t for t, p in self.out if p.sequence == sequence) - self.arrivals[sequence]


def replay(
    arrivals: list[tuple[float, int, int]],
    buffer: JitterBuffer | None = None,
    clock: Clock | None = None,
) -> Run:
    """(arrival offset, sequence, timestamp) in arrival order, through a buffer on a fake clock."""
    clock = clock or Clock()
    start = clock.now
    buffer = buffer or JitterBuffer(clock)
    run = Run()
    for offset, sequence, timestamp in sorted(arrivals, key=lambda a: a[0]):
        at = start + offset
        while (deadline := buffer.deadline) is not None and deadline <= at:
            clock.now = max(clock.now, deadline)
            run.out += [(clock.now, p) for p in buffer.poll()]
        clock.now = at
        run.arrivals.setdefault(sequence & 0xFFFF, at)
        run.out += [(at, p) for p in buffer.push(sequence & 0xFFFF, timestamp, b"%d" % sequence)]
        run.depth.append(buffer.depth)
    while (deadline := buffer.deadline) is not None:
        clock.now = max(clock.now, deadline)
        run.out += [(clock.now, p) for p in buffer.poll()]
    return run


def stream(
    count: int,
    delays: dict[int, float] | None = None,
    drop: AbstractSet[int] = frozenset(),
    first: int = 0,
) -> list[tuple[float, int, int]]:
    """Packets sent every 20 ms, arriving after BASE_DELAY plus their extra delay."""
    delays = delays or {}
    return [
        (i * PACKET + BASE_DELAY + delays.get(i, 0.0), first + i, (first + i) * TICKS)
        for i in range(count)
        if i not in drop
    ]


def test_packets_in_order_come_out_at_once_and_nothing_is_held() -> None:
    run = replay(stream(50))
    assert run.sequences == list(range(50))
    assert set(run.depth) == {0}
    assert all(run.held_for(s) == 0 for s in range(50))


def test_a_lost_packet_is_declared_lost_and_nothing_after_it_is_discarded() -> None:
    run = replay(stream(20, drop={7}))
    assert run.sequences == list(range(20))
    assert run.lost == [7]
    lost = next(p for _, p in run.out if p.lost)
    assert (lost.timestamp, lost.duration) == (7 * TICKS, TICKS)
    # No jitter measured: the loss costs no wait beyond the margin (a packet), so 8 (a packet
    # later) goes on at once.
    assert run.held_for(8) == pytest.approx(0, abs=1e-9)


def test_random_loss_plays_every_packet_received_where_aiortcs_buffer_discards_some() -> None:
    rng = random.Random(19)
    drop = {i for i in range(1000) if rng.random() < 0.05}
    arrivals = stream(1000, drop=drop)
    run = replay(arrivals)
    played = [p.sequence for _, p in run.out if not p.lost]
    assert played == [s for _, s, _ in arrivals]
    assert run.lost == sorted(drop)
    assert max(run.depth) <= 1

    theirs = AiortcJitterBuffer(capacity=16, prefetch=4)
    timestamps = set()
    for _, sequence, timestamp in arrivals:
        packet = RtpPacket(sequence_number=sequence, timestamp=timestamp)
        packet._data = b"x"  # type: ignore[attr-defined]
        _, frame = theirs.add(packet)
        if frame is not None:
            timestamps.add(frame.timestamp)
    assert len(timestamps) < len(arrivals) - 20  # it threw received packets away


def test_reordered_packets_come_out_in_order_once_the_jitter_is_measured() -> None:
    rng = random.Random(3)
    delays = {i: rng.uniform(0, 0.03) for i in range(300)}  # 40 ms +- 15 ms style jitter
    arrivals = stream(300, delays)
    assert [s for _, s, _ in sorted(arrivals)] != list(range(300))  # it does reorder
    run = replay(arrivals)
    assert run.sequences == list(range(300))
    # A packet is given up on only when it came later than any in the 2 s before it.
    assert len(run.lost) <= 3
    for s in run.lost:
        assert delays[s] > max(delays[j] for j in range(max(0, s - 100), s))
    assert max(run.depth) <= 2
    # Nothing waits longer than the wait's upper bound.
    assert max(run.held_for(s) for s in range(300) if s not in run.lost) <= 0.04 + 1e-9


def test_a_packet_100ms_late_is_concealed_dropped_and_adds_no_latency_for_good() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock)
    run = replay(stream(60, {20: 0.1}), buffer, clock)
    assert run.lost == [20]
    assert buffer.stats.late == 1
    assert run.sequences == list(range(60))
    assert all(run.held_for(s) == 0 for s in range(30, 60))
    assert buffer.depth == 0


def test_a_gap_waits_at_most_max_wait_under_large_jitter_and_holds_what_came_after() -> None:
    rng = random.Random(5)
    delays = {i: rng.uniform(0, 0.2) for i in range(100)}  # huge jitter, then none
    clock = Clock()
    buffer = JitterBuffer(clock, max_wait=0.04)
    run = replay(stream(110, delays, drop={103}), buffer, clock)
    assert 103 in run.lost
    # The gap was seen when 104 came: 104 and 105 (20 ms later) were held to 40 ms after it.
    assert run.held_for(104) == pytest.approx(0.04)
    assert run.held_for(105) == pytest.approx(0.02)
    assert run.sequences[-7:] == list(range(103, 110))


def test_after_a_burst_the_buffer_is_back_to_empty_and_forgets_the_jitter() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock)
    rng = random.Random(8)
    burst = {i: rng.uniform(0, 0.06) for i in range(100, 150)}
    run = replay(stream(400, burst, drop=set(range(200, 206))), buffer, clock)
    # Given up on: the burst's lost packets, and packets later than any before them.
    assert set(range(200, 206)) <= set(run.lost) <= set(range(100, 150)) | set(range(200, 206))
    assert buffer.depth == 0
    # Two seconds after the burst of jitter the window holds clean transits only.
    assert buffer.jitter == pytest.approx(0.0, abs=1e-9)
    assert all(run.held_for(s) == 0 for s in range(206, 400))


def test_a_burst_loss_is_concealed_for_a_few_packets_and_a_blackout_is_skipped() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock, max_conceal=5)
    run = replay(stream(400, drop=set(range(50, 300))), buffer, clock)
    assert run.lost == [50, 51, 52, 53, 54]
    assert buffer.stats.skipped == 245
    assert buffer.depth == 0
    assert [s for s in run.sequences if s >= 300] == list(range(300, 400))


def test_duplicates_are_dropped() -> None:
    arrivals = stream(10)
    arrivals += [(t + 0.001, s, ts) for t, s, ts in arrivals[3:5]]  # again, just after
    clock = Clock()
    buffer = JitterBuffer(clock)
    run = replay(arrivals + [(0.2205, 9, 9 * TICKS)], buffer, clock)
    assert run.sequences == list(range(10))
    # Each copy came after its original was played: dropped as late.
    assert (buffer.stats.duplicates, buffer.stats.late) == (0, 3)


def test_a_duplicate_of_a_held_packet_is_dropped() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock, min_wait=0.04)
    assert [p.sequence for p in buffer.push(1, TICKS, b"1")] == [1]
    assert buffer.push(3, 3 * TICKS, b"3") == []
    assert buffer.push(3, 3 * TICKS, b"3") == []
    assert buffer.stats.duplicates == 1
    assert [p.sequence for p in buffer.push(2, 2 * TICKS, b"2")] == [2, 3]


def test_sequence_numbers_and_timestamps_wrap_around() -> None:
    first = 0xFFFF - 4
    arrivals = [
        (i * PACKET + BASE_DELAY, (first + i) & 0xFFFF, ((first + i) * TICKS) & 0xFFFFFFFF)
        for i in range(12)
    ]
    # 0xFFFF and 0 swapped (a reorder across the wrap) after some jitter was learnt: none.
    arrivals[4], arrivals[5] = (
        (arrivals[5][0], *arrivals[4][1:]),
        (arrivals[4][0], *arrivals[5][1:]),
    )
    clock = Clock()
    buffer = JitterBuffer(clock, min_wait=0.03)
    run = replay(arrivals, buffer, clock)
    assert [s & 0xFFFF for s in run.sequences] == [(first + i) & 0xFFFF for i in range(12)]
    assert run.sequences == sorted(run.sequences)
    assert not run.lost
    steps = {
        b.timestamp - a.timestamp for (_, a), (_, b) in zip(run.out, run.out[1:], strict=False)
    }
    assert steps == {TICKS}


def test_a_gap_with_nothing_after_it_waits_for_the_deadline_then_plays_what_is_held() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock, min_wait=0.02, max_wait=0.04)
    buffer.push(1, TICKS, b"1")
    clock.now += 0.04
    assert buffer.push(3, 3 * TICKS, b"3") == []
    assert buffer.depth == 1
    deadline = buffer.deadline
    assert deadline is not None
    clock.now = deadline - 0.001
    assert buffer.poll() == []
    clock.now = deadline
    assert [(p.sequence, p.lost) for p in buffer.poll()] == [(2, True), (3, False)]
    assert buffer.deadline is None
    assert buffer.depth == 0


def test_a_sender_that_restarts_its_sequence_is_followed() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock)
    for s in range(1000, 1010):
        buffer.push(s, s * TICKS, b"x")
        clock.now += PACKET
    out = buffer.push(5, 5 * TICKS, b"new")
    assert [(p.sequence, p.payload) for p in out] == [(5, b"new")]
    assert buffer.stats.restarts == 1
    assert [p.sequence for p in buffer.push(6, 6 * TICKS, b"x")] == [6]


def test_a_lost_packets_timestamp_and_duration_follow_the_streams_packet_size() -> None:
    clock = Clock()
    buffer = JitterBuffer(clock, margin=0.0)
    for s in range(5):
        buffer.push(s, s * 480, b"x")  # 10 ms packets
        clock.now += 0.01
    clock.now += 0.01
    out = buffer.push(6, 6 * 480, b"x")
    assert [(p.sequence, p.timestamp, p.duration, p.lost) for p in out] == [
        (5, 5 * 480, 480, True),
        (6, 6 * 480, 480, False),
    ]
