"""`--only browser-network`: the room page in Chromium under loss (issue 19).

Chromium's media is impaired in user space, as the aiortc peers' is (`tests/netem.py`): the page
is made relay-only (what a symmetric NAT leaves a browser: `RELAY_ONLY`, as the TURN browser
test does) and the app hands it TURN credentials for a `netem.UdpRelay` that stands in front of
a real coturn, so everything the page sends and receives (STUN, DTLS, RTP, RTCP, SCTP) crosses
the relay, which loses and delays datagrams in both directions. (libwebrtc's degraded-call field
trials were tried first: Debian's Chromium 156 ignored them.) Its fake microphone plays a WAV
file, on a loop: silence, the question, silence. Per profile, one call of QUESTIONS questions
(the loop's): what the bot heard (its transcript lines as the page shows them), whether it
answered each right (the user's life path number), what the relay dropped each way, and what
the page's own receiver counted of the bot's audio (packets lost, samples concealed by NetEQ,
FEC packets). More than one question: the bot sizes its FEC from the page's RTCP reports, which
Chromium sends every few seconds, so a greeting and one answer may all go out before a report
has told of any loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from src.numerology import life_path_number
from tests import netem
from tests.coturn import coturn
from tests.kit.browser import INBOUND_AUDIO_STATS, question_wav
from tests.voice.test_browser import CHROMIUM, CHROMIUM_FLAGS
from tests.voice.test_browser_turn import RELAY_ONLY

# The bench's users (run._user) are born on this day.
BIRTH = date(1984, 7, 5)
# Questions asked in each call (the fake microphone's loop repeats the question).
QUESTIONS = 2


@dataclass(frozen=True)
class BrowserProfile:
    name: str
    link: netem.Profile  # each direction, between the page and the TURN server


PROFILES = (
    BrowserProfile("clean", netem.Profile()),
    BrowserProfile("3 % loss, 40 +- 15 ms", netem.Profile(loss=0.03, delay=0.04, jitter=0.015)),
    BrowserProfile("10 % loss, 60 +- 30 ms", netem.Profile(loss=0.1, delay=0.06, jitter=0.03)),
)


@contextlib.asynccontextmanager
async def impaired_turn(tmp: Path) -> AsyncIterator[tuple[netem.UdpRelay, dict[str, str]]]:
    """coturn on loopback behind a `netem.UdpRelay`: the relay, and the app's settings that
    send every page's TURN traffic through it (TURN_URLS names the relay, not coturn)."""
    with coturn(tmp) as server:
        relay = await netem.udp_relay(("127.0.0.1", server.port))
        host, port = relay.address
        try:
            yield (
                relay,
                {
                    "TURN_URLS": f"turn:{host}:{port}?transport=udp",
                    "TURN_SECRET": server.secret,
                },
            )
        finally:
            relay.close()


async def _call(
    relay: netem.UdpRelay,
    client: httpx.AsyncClient,
    user: dict[str, str],
    profile: BrowserProfile,
    wav: Path,
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    relay.up.profile = relay.down.profile = profile.link
    before = [(d.counts.sent, d.counts.dropped) for d in (relay.up, relay.down)]
    started = (await client.post("/api/v1/conversations/start", headers=user)).json()
    flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}"]
    number = life_path_number(BIRTH).value
    row: dict[str, Any] = {"profile": profile.name, "heard": [], "right": False}
    began = time.monotonic()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            await page.add_init_script(RELAY_ONLY)
            await page.goto(f"{started['daily_room_url']}#token={started['daily_token']}")
            deadline = time.monotonic() + 30 + 15 * QUESTIONS
            transcript: list[dict[str, str]] = []
            while time.monotonic() < deadline:
                transcript = await page.evaluate("() => window.roomState.transcript")
                if (
                    sum(line["role"] == "user" for line in transcript) >= QUESTIONS
                    and sum(line["role"] == "bot" for line in transcript) >= QUESTIONS + 1
                ):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2)  # the answer's audio reaches the page
            stats = await page.evaluate(INBOUND_AUDIO_STATS)
            await browser.close()
    finally:
        await client.post(f"/api/v1/conversations/{started['conversation_id']}/end", headers=user)
    heard = [line["text"] for line in transcript if line["role"] == "user"]
    said = [line["text"] for line in transcript if line["role"] == "bot"]
    row["heard"] = heard
    answers = said[1 : QUESTIONS + 1]  # after the greeting
    row["right"] = len(answers) == QUESTIONS and all(
        re.search(rf"life path number is {number}\b", s) for s in answers
    )
    row["seconds"] = time.monotonic() - began
    for name, direction, (sent, dropped) in zip(
        ("up", "down"), (relay.up, relay.down), before, strict=True
    ):
        given, lost = direction.counts.sent - sent, direction.counts.dropped - dropped
        row[f"relay_{name}_dropped"] = lost / given if given else None
    if stats:
        expected = stats["received"] + max(0, stats["lost"])
        row["bot_packets_received"] = stats["received"] / expected if expected else None
        row["concealed"] = stats["concealed"] / stats["samples"] if stats["samples"] else None
        row["fec_packets"] = stats["fec"]
    return row


async def browser_profiles(
    relay: netem.UdpRelay,
    client: httpx.AsyncClient,
    users: list[dict[str, str]],
    question: np.ndarray,
) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = question_wav(Path(tmp) / "question.wav", question, before=2, after=8)
        for i, profile in enumerate(PROFILES):
            row = await _call(relay, client, users[i % len(users)], profile, wav)
            print(f"  chromium, {profile.name}: {row}", flush=True)
            rows.append(row)
            await asyncio.sleep(2)
    return rows


def print_browser(rows: list[dict[str, Any]]) -> None:
    print("\nthe room page in Chromium, relay-only through an impairing UDP relay before coturn")

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    print(
        f"{'profile':<24}{f'{QUESTIONS} answered right':>17}{'dropped up':>11}{'down':>7}"
        f"{'bot pkts':>10}{'concealed':>11}{'fec':>5}  heard"
    )
    for row in rows:
        print(
            f"{row['profile']:<24}{'yes' if row['right'] else 'no':>17}"
            f"{pct(row.get('relay_up_dropped')):>11}{pct(row.get('relay_down_dropped')):>7}"
            f"{pct(row.get('bot_packets_received')):>10}{pct(row.get('concealed')):>11}"
            f"{row.get('fec_packets', '-')!s:>5}  {row['heard']}"
        )
