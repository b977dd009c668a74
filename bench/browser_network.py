"""`--only browser-network`: the room page in Chromium under loss (issue 19).

Chromium's own WebRTC stack impairs its media: libwebrtc's degraded-call field trials
(`WebRTC-FakeNetworkSendConfig` / `WebRTC-FakeNetworkReceiveConfig`, `--force-fieldtrials`)
put a simulated network pipe on what the page's call sends and receives (RTP and RTCP; ICE,
DTLS and the data channel go unimpaired). Its fake microphone plays a WAV file, on a loop:
silence, the question, silence. Per profile, one call: what the bot heard (its transcript line
as the page shows it), whether it answered right (the user's life path number), and what the
page's own receiver counted of the bot's audio (packets lost, samples concealed by NetEQ).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from src.numerology import life_path_number
from tests.voice.test_browser import CHROMIUM, CHROMIUM_FLAGS

# The bench's users (run._user) are born on this day.
BIRTH = date(1984, 7, 5)


@dataclass(frozen=True)
class BrowserProfile:
    name: str
    loss_percent: int = 0
    delay_ms: int = 0
    jitter_ms: int = 0

    def trials(self) -> str:
        """The degraded-call field trials, both directions ('' for a clean link)."""
        if not (self.loss_percent or self.delay_ms):
            return ""
        config = (
            f"loss_percent:{self.loss_percent},queue_delay_ms:{self.delay_ms},"
            f"delay_std_ms:{self.jitter_ms},allow_reordering:true"
        )
        return f"WebRTC-FakeNetworkSendConfig/{config}/WebRTC-FakeNetworkReceiveConfig/{config}/"


PROFILES = (
    BrowserProfile("clean"),
    BrowserProfile("3 % loss, 40 +- 15 ms", 3, 40, 15),
    BrowserProfile("10 % loss, 60 +- 30 ms", 10, 60, 30),
)


def _wav(path: Path, question: np.ndarray) -> Path:
    """2 s of silence, the question (48 kHz int16, its own second of silence after), 8 s more."""
    silence = np.zeros(48_000, np.int16)
    audio = np.concatenate([silence, silence, question, *([silence] * 8)])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(audio.tobytes())
    return path


_STATS = """async () => {
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


async def _call(
    base: str,
    client: httpx.AsyncClient,
    user: dict[str, str],
    profile: BrowserProfile,
    wav: Path,
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    started = (await client.post("/api/v1/conversations/start", headers=user)).json()
    flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}"]
    if profile.trials():
        flags.append(f"--force-fieldtrials={profile.trials()}")
    number = life_path_number(BIRTH).value
    row: dict[str, Any] = {"profile": profile.name, "heard": None, "right": False}
    began = time.monotonic()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            await page.goto(f"{started['daily_room_url']}#token={started['daily_token']}")
            deadline = time.monotonic() + 45
            transcript: list[dict[str, str]] = []
            while time.monotonic() < deadline:
                transcript = await page.evaluate("() => window.roomState.transcript")
                if (
                    any(line["role"] == "user" for line in transcript)
                    and sum(line["role"] == "bot" for line in transcript) >= 2
                ):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # the answer's audio reaches the page
            stats = await page.evaluate(_STATS)
            await browser.close()
    finally:
        await client.post(f"/api/v1/conversations/{started['conversation_id']}/end", headers=user)
    heard = [line["text"] for line in transcript if line["role"] == "user"]
    said = [line["text"] for line in transcript if line["role"] == "bot"]
    row["heard"] = heard[0] if heard else None
    row["right"] = any(re.search(rf"life path number is {number}\b", s) for s in said[1:2])
    row["seconds"] = time.monotonic() - began
    if stats:
        expected = stats["received"] + max(0, stats["lost"])
        row["bot_packets_received"] = stats["received"] / expected if expected else None
        row["concealed"] = stats["concealed"] / stats["samples"] if stats["samples"] else None
        row["fec_packets"] = stats["fec"]
    return row


async def browser_profiles(
    base: str, client: httpx.AsyncClient, users: list[dict[str, str]], question: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = _wav(Path(tmp) / "question.wav", question)
        for i, profile in enumerate(PROFILES):
            row = await _call(base, client, users[i % len(users)], profile, wav)
            print(f"  chromium, {profile.name}: {row}", flush=True)
            rows.append(row)
            await asyncio.sleep(2)
    return rows


def print_browser(rows: list[dict[str, Any]]) -> None:
    print("\nthe room page in Chromium, its media degraded by libwebrtc's field trials (both ways)")
    print(f"{'profile':<24}{'answered right':>15}{'bot pkts':>10}{'concealed':>11}  heard")
    for row in rows:
        share, concealed = row.get("bot_packets_received"), row.get("concealed")
        print(
            f"{row['profile']:<24}{'yes' if row['right'] else 'no':>15}"
            f"{'-' if share is None else f'{share:.1%}':>10}"
            f"{'-' if concealed is None else f'{concealed:.1%}':>11}  {row['heard']!r}"
        )
