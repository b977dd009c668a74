"""The room page in Chromium, for the tests and the bench: waiting on the page, its fake
microphone's file, and what its receiver counted.

Waiting: Playwright's `wait_for_function` compiles its predicate inside the page with
`new Function`, which the pages' CSP (script-src 'self', no 'unsafe-eval') refuses; `evaluate`
goes through the DevTools protocol, which the CSP does not govern. So the test polls.
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

# What the page's receiver counted of the bot's audio (`getStats`' inbound-rtp), or null.
INBOUND_AUDIO_STATS = """async () => {
  const report = await window.roomState.pc.getStats();
  for (const s of report.values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      return {received: s.packetsReceived, lost: s.packetsLost,
              concealed: s.concealedSamples, samples: s.totalSamplesReceived,
              fec: s.fecPacketsReceived};
    }
  }
  return null;
}"""


def question_wav(path: Path, question: np.ndarray, *, before: int, after: int) -> Path:
    """The fake microphone's file (Chromium plays it on a loop): `before` seconds of silence,
    the question (48 kHz int16), `after` seconds of silence."""
    silence = np.zeros(48_000, np.int16)
    audio = np.concatenate([*([silence] * before), question, *([silence] * after)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(audio.tobytes())
    return path


async def wait_until(page: Any, expression: str, *, within_ms: float) -> None:
    """Poll until the page's JavaScript `expression` is truthy, for at most `within_ms`."""
    deadline = time.monotonic() + within_ms / 1000
    while not await page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page never had {expression}")
        await asyncio.sleep(0.1)
