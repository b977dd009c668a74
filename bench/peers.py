"""What a benchmark or drill user does with their aiortc peer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np

from src.compat.aiortc_wire import on_rtp_packet
from tests.kit.speech import say
from tests.voice.peer import Peer

End = Any  # run.py's `_end(client, auth, body)`


class Closes(Protocol):
    """A user's connection: a test peer or a load user (`tests/kit/load.LoadUser`)."""

    async def close(self) -> None: ...


async def hang_up(
    client: httpx.AsyncClient,
    joined: Sequence[tuple[Closes, dict[str, str], dict[str, Any]]],
    end: End,
) -> None:
    """Every user hangs up and ends its conversation, all at once: one after another, 48 ends
    on an overloaded server took 30 s (2026-12-06), time the measurement did not need."""

    async def leave(connection: Closes, user: dict[str, str], body: dict[str, Any]) -> None:
        await connection.close()
        await end(client, user, body)

    await asyncio.gather(*(leave(*one) for one in joined))


# The bot counts as silent after this long without a loud frame (Piper's pauses between the
# sentences of one reply are shorter).
QUIET = 0.8


async def until_quiet(peers: list[Peer], quiet: float = QUIET, within: float = 30) -> None:
    """Wait until no peer has heard its bot for `quiet` s (or `within` s have passed)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        now = time.monotonic()
        if all(now - (peer.last_sound() or 0.0) >= quiet for peer in peers):
            return
        await asyncio.sleep(0.05)


async def ask(peer: Peer, audio: np.ndarray, within: float = 20) -> float | None:
    """Say a question once the bot is silent; seconds from its end to the answer's first
    sound, None if none came.

    Waiting for the bot's silence first keeps an earlier reply, still playing, from being taken
    for the answer (and the question from interrupting it).
    """
    await until_quiet([peer])
    asked = await say(peer, audio)
    try:
        await peer.utterance(asked, within=within, quiet=0.5)
    except TimeoutError:
        return None
    heard = peer.first_sound_after(asked)
    assert heard is not None
    return heard - asked


class Packets:
    """The bot's audio packets as they reach a peer (its receiver's RTP handler): each one's
    sequence number and arrival time (time.monotonic), before any decoding."""

    def __init__(self, peer: Peer) -> None:
        self.sequences: list[int] = []
        self.times: list[float] = []
        on_rtp_packet(peer.pc.getTransceivers()[0].receiver, self._record)

    def _record(self, packet: Any, arrival_time_ms: int) -> None:
        del arrival_time_ms  # timed by time.monotonic, as every other arrival in the bench
        self.sequences.append(packet.sequence_number)
        self.times.append(time.monotonic())

    def received_share(self, since: int) -> float | None:
        """The share of the packets sent since the `since`-th that arrived."""
        got = self.sequences[since:]
        if len(got) < 2:
            return None
        # 16-bit numbers, reordered: unwrap each against the first, either way.
        unwrapped = {((s - got[0] + 32768) % 65536) - 32768 for s in got}
        return len(unwrapped) / (max(unwrapped) - min(unwrapped) + 1)
