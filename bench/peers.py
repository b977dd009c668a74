"""What a benchmark or drill user does with their aiortc peer."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from tests.kit.speech import say
from tests.voice.peer import Peer

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
