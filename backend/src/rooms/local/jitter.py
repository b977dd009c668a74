"""An adaptive jitter buffer for the user's audio (RTP packets in, an ordered stream out).

aiortc's audio `JitterBuffer(capacity=16, prefetch=4)` orders packets by sequence number only:
it holds 4 packets before it plays any (80 ms), throws away the packets it holds ahead of a lost
one, and then stays deep for the rest of the call (issue 19). This one is for a listener that is
no sound card: the bot's pipeline (VAD, turn detection, recogniser) takes audio as it comes, so
nothing needs smoothing into a steady pace. So:

- A packet that is next in sequence is released at once: no prefetch, no added latency.
- At a gap (a later packet came first) the packets behind it are held, never discarded, until the
  missing one comes or its deadline passes; then it is declared lost (the decoder conceals it,
  with the next packet's FEC if it has some) and everything held is released in order.
- The deadline adapts to the measured jitter: the missing packet is expected by the time its
  RTP timestamp says plus the fastest transit seen plus the transit spread (the latest packet
  relative to the fastest) over the last WINDOW_SECONDS, plus a margin of a packet; it is
  clamped to between `min_wait` and `max_wait` (a packet or two) after the gap was seen. With no
  jitter a loss costs no wait: the packet after the gap comes when the margin ends.
- The buffer is only ever deep while it waits at a gap: after a burst it is back to empty, and a
  late packet adds no latency for good (it is dropped, its place already concealed).
- Duplicates, packets older than what was played (late) and 16-bit sequence / 32-bit timestamp
  wrap-around are handled; a jump far back restarts the stream; a long gap (a blackout) is
  concealed for at most `max_conceal` packets, the rest skipped like a silence.

Pure logic: the clock is injected, and `deadline`/`poll()` let the caller wake it at a gap when
no packet comes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# Transit times over this long decide the jitter (and the buffer forgets a burst as fast).
WINDOW_SECONDS = 2.0
# A packet this far behind what was played is a restarted stream, not a late packet.
MAX_MISORDER = 100
# The longest Opus packet (120 ms at the 48 kHz RTP clock): a longer step is a silence.
MAX_PACKET_TICKS = 5760


@dataclass(frozen=True, slots=True)
class Played:
    """One packet's place in the output, in sequence order.

    Attributes:
        sequence: the extended (unwrapped) sequence number.
        timestamp: the RTP timestamp (estimated for a lost packet).
        duration: RTP ticks it covers (estimated for a lost packet).
        payload: the packet's payload; None when it was declared lost (conceal it).
    """

    sequence: int
    timestamp: int
    duration: int
    payload: bytes | None

    @property
    def lost(self) -> bool:
        return self.payload is None


@dataclass(slots=True)
class _Held:
    timestamp: int
    payload: bytes
    arrival: float


@dataclass(slots=True)
class Stats:
    """Counts since the start, in packets."""

    received: int = 0
    played: int = 0
    lost: int = 0  # declared lost and concealed
    skipped: int = 0  # lost beyond `max_conceal` in one gap: not concealed
    late: int = 0  # came after their place was played or concealed: dropped
    duplicates: int = 0
    restarts: int = 0


class JitterBuffer:
    """Orders one RTP audio stream, waiting at a gap only as long as the measured jitter needs.

    Args:
        clock: seconds, monotonic (injected for tests).
        clock_rate: the RTP clock (48 kHz for Opus).
        packet_ticks: the packets' duration before any is measured (20 ms).
        min_wait: the least wait at a gap, after it is seen (seconds).
        max_wait: the most (seconds): a packet or two.
        max_conceal: packets of one gap to conceal; the rest of a longer gap are skipped.
        margin: added to the measured spread (seconds): the next late packet is often a little
            later than any in the window (a packet's worth more catches nearly all of them at
            10 % loss with 60 +- 30 ms; without it 2.8 % of the received were too late).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        clock_rate: int = 48_000,
        packet_ticks: int = 960,
        min_wait: float = 0.0,
        max_wait: float = 0.04,
        max_conceal: int = 10,
        margin: float = 0.02,
    ) -> None:
        self._clock = clock
        self._rate = clock_rate
        self._ticks = packet_ticks
        self._min_wait = min_wait
        self._max_wait = max_wait
        self._max_conceal = max_conceal
        self._margin = margin
        self._held: dict[int, _Held] = {}
        self._next: int | None = None  # the sequence number to play next
        self._highest: int | None = None  # the highest extended sequence number seen
        self._last_ts: int | None = None  # the last extended timestamp seen (unwrapping)
        self._played: tuple[int, int] | None = None  # (sequence, timestamp) last played
        self._transits: deque[tuple[float, float]] = deque()  # (arrival, arrival - media time)
        self.stats = Stats()

    @property
    def depth(self) -> int:
        """Packets held (waiting behind a gap)."""
        return len(self._held)

    @property
    def jitter(self) -> float:
        """The transit spread (seconds) over the last WINDOW_SECONDS: how late a packet can be."""
        if not self._transits:
            return 0.0
        transits = [t for _, t in self._transits]
        return max(transits) - min(transits)

    @property
    def deadline(self) -> float | None:
        """When the gap being waited at will be declared lost (`poll()` then); None: no gap."""
        if not self._held or self._next in self._held:
            return None
        assert self._next is not None
        first = min(self._held)
        seen = min(h.arrival for h in self._held.values())
        # The missing packet's media time, from the first packet after the gap.
        media = (self._held[first].timestamp - (first - self._next) * self._ticks) / self._rate
        expected = media + self._transits_floor() + self.jitter + self._margin
        return min(max(expected, seen + self._min_wait), seen + self._max_wait)

    def push(self, sequence: int, timestamp: int, payload: bytes) -> list[Played]:
        """Take a packet; return what can be played now, in order (lost places included)."""
        now = self._clock()
        self.stats.received += 1
        ext = self._unwrap(sequence)
        if self._next is None:
            self._next = ext
        elif ext < self._next:
            if self._next - ext <= MAX_MISORDER:
                # Too late to play, but a measure of how late packets come.
                self.stats.late += 1
                self._measure(now, self._unwrap_timestamp(timestamp))
                return []
            # The sender restarted its sequence: play what is held, then follow the new one.
            self.stats.restarts += 1
            out = self._flush()
            self._restart(ext)
            return out + self._take(ext, timestamp, payload, now)
        if ext in self._held:
            self.stats.duplicates += 1
            return []
        return self._take(ext, timestamp, payload, now)

    def poll(self) -> list[Played]:
        """What is due now (a gap whose deadline has passed), in order."""
        return self._release(self._clock())

    def _take(self, ext: int, timestamp: int, payload: bytes, now: float) -> list[Played]:
        ts = self._unwrap_timestamp(timestamp)
        self._held[ext] = _Held(ts, payload, now)
        self._measure(now, ts)
        return self._release(now)

    def _measure(self, now: float, timestamp: int) -> None:
        self._transits.append((now, now - timestamp / self._rate))
        while self._transits[0][0] < now - WINDOW_SECONDS:
            self._transits.popleft()

    def _release(self, now: float) -> list[Played]:
        out: list[Played] = []
        while self._held:
            assert self._next is not None
            held = self._held.pop(self._next, None)
            if held is not None:
                out.append(self._play(self._next, held))
                self._next += 1
                continue
            deadline = self.deadline
            if deadline is None or now < deadline:
                break
            out += self._declare_lost(min(self._held))
        return out

    def _play(self, sequence: int, held: _Held) -> Played:
        if self._played is not None and self._played[0] == sequence - 1:
            step = held.timestamp - self._played[1]
            if 0 < step <= MAX_PACKET_TICKS:
                self._ticks = step
        self._played = (sequence, held.timestamp)
        self.stats.played += 1
        return Played(sequence, held.timestamp, self._ticks, held.payload)

    def _declare_lost(self, upto: int) -> list[Played]:
        """The places from the next one to `upto` (excluded) are lost."""
        assert self._next is not None
        missing = upto - self._next
        ticks = self._ticks
        if self._played is not None and self._played[0] == self._next - 1:
            step = (self._held[upto].timestamp - self._played[1]) // (missing + 1)
            if 0 < step <= MAX_PACKET_TICKS:
                ticks = step
        first_ts = self._held[upto].timestamp - missing * ticks
        concealed = min(missing, self._max_conceal)
        out = [Played(self._next + i, first_ts + i * ticks, ticks, None) for i in range(concealed)]
        self.stats.lost += concealed
        self.stats.skipped += missing - concealed
        self._next = upto
        return out

    def _flush(self) -> list[Played]:
        out: list[Played] = []
        while self._held:
            assert self._next is not None
            if self._next not in self._held:
                out += self._declare_lost(min(self._held))
            out.append(self._play(self._next, self._held.pop(self._next)))
            self._next += 1
        return out

    def _restart(self, ext: int) -> None:
        self._next = self._highest = ext
        self._played = None
        self._last_ts = None
        self._transits.clear()

    def _transits_floor(self) -> float:
        return min(t for _, t in self._transits) if self._transits else 0.0

    def _unwrap(self, sequence: int) -> int:
        if self._highest is None:
            self._highest = sequence
            return sequence
        delta = (sequence - self._highest) & 0xFFFF
        if delta >= 0x8000:
            delta -= 0x10000
        ext = self._highest + delta
        self._highest = max(self._highest, ext)
        return ext

    def _unwrap_timestamp(self, timestamp: int) -> int:
        if self._last_ts is None:
            self._last_ts = timestamp
            return timestamp
        delta = (timestamp - self._last_ts) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        ext = self._last_ts + delta
        self._last_ts = max(self._last_ts, ext)
        return ext
