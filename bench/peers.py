"""What a benchmark or drill user does with their aiortc peer."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from tests.voice.peer import RATE, Peer  # noqa: E402


async def ask(peer: Peer, audio: np.ndarray, within: float = 20) -> float | None:
    """Say a question; seconds from its end to the answer's first sound, None if none came."""
    peer.mic.say(audio)
    # The question plays in real time; it ends one second (of trailing silence) early.
    await asyncio.sleep((len(audio) - RATE) / RATE)
    asked = time.monotonic()
    try:
        await peer.utterance(asked, within=within, quiet=0.5)
    except TimeoutError:
        return None
    heard = peer.first_sound_after(asked)
    assert heard is not None
    return heard - asked
