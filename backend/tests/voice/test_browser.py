"""The demo a newcomer gets: Debian's chromium opens the room page and hears the bot.

The app is served on loopback by uvicorn with the real bot; headless chromium with a fake
(silent) microphone opens `daily_room_url`, and the page reports the bot's audio level and
shows the greeting's text; a question typed in the page's text box is answered in text (stored
with the source `text`). Leave ends the conversation.
"""

from __future__ import annotations

import shutil
import socket
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pipecat.processors.frameworks.rtvi.models import PROTOCOL_VERSION

from src.core.settings import Settings
from src.main import create_app
from src.voice_pipeline import speech
from tests.conftest import make_settings
from tests.fakes.loopback import serve_on_loopback
from tests.kit.browser import wait_until

pytestmark = pytest.mark.once
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # Real host addresses in ICE candidates, not mDNS names the server cannot resolve.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def _silence(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(b"\0\0" * 48_000 * 5)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(clean_db: str, models: speech.SpeechModels) -> AsyncIterator[Settings]:
    """The app with the real bot, served on a free loopback port."""
    port = _free_port()
    settings = make_settings(clean_db, public_base_url=f"http://127.0.0.1:{port}")
    async with serve_on_loopback(create_app(settings), port=port, lifespan="on"):
        yield settings


async def test_the_room_page_plays_the_greeting(served: Settings, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    assert HAVE_CHROMIUM, "chromium is missing: `make test` installs it"
    base = served.base_url
    async with httpx.AsyncClient(base_url=base) as http:
        registered = await http.post(
            "/api/v1/auth/register",
            json={
                "email": "ada@example.com",
                "password": "correct horse battery",
                "full_name": "Ada Lovelace",
                "birth_date": "1984-07-05",
            },
        )
        token = registered.json()["access_token"]
        started = (
            await http.post(
                "/api/v1/conversations/start", headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        flags = [
            *CHROMIUM_FLAGS,
            f"--use-file-for-fake-audio-capture={_silence(tmp_path / 'mic.wav')}",
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            await page.goto(f"{started['daily_room_url']}#token={started['daily_token']}")
            await wait_until(
                page, "window.roomState.transcript.some(l => l.role === 'bot')", within_ms=30_000
            )
            await wait_until(page, "window.roomState.maxBotLevel > 0.02", within_ms=30_000)
            state = await page.evaluate(
                "({state: window.roomState.state, level: window.roomState.maxBotLevel,"
                " transcript: window.roomState.transcript, botReady: window.roomState.botReady})"
            )
            await page.screenshot(path=str(tmp_path / "room.png"))
            assert state["state"] == "connected"
            assert state["botReady"] == PROTOCOL_VERSION  # RTVI: the page sent client-ready
            assert state["transcript"][0]["text"].startswith("Hello Ada!")
            assert "Hello Ada!" in await page.inner_text("#transcript")
            print(f"\nbrowser heard the bot at level {state['level']:.3f}")
            # Typing instead of speaking: the labelled box, Enter sends, a text-only answer.
            await page.get_by_label("Answer in text only").check()
            typed = page.get_by_label("Type a question instead of speaking")
            await typed.fill("What is my life path number?")
            await typed.press("Enter")
            await wait_until(
                page,
                "window.roomState.transcript.some(l => l.role === 'bot'"
                " && l.text.startsWith('Your life path number is'))",
                within_ms=10_000,
            )
            answer = await page.evaluate(
                "({ms: window.roomState.answeredAt - window.roomState.typedAt,"
                " lines: window.roomState.transcript.slice(-2)})"
            )
            assert answer["lines"][0] == {"role": "user", "text": "What is my life path number?"}
            assert await page.get_attribute("#transcript", "aria-live") == "polite"
            print(f"typed question answered in text on the page after {answer['ms']:.0f} ms")
            await _the_page_shows_what_was_said_of_cut_lines(page)
            await page.click("#leave")
            await wait_until(page, "window.roomState.state === 'ended'", within_ms=10_000)
            await browser.close()
        got = await http.get(
            f"/api/v1/conversations/{started['conversation_id']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert got.json()["status"] == "ended"
        assert got.json()["end_reason"] == "user_ended"
        lines = (
            await http.get(
                f"/api/v1/conversations/{started['conversation_id']}/messages",
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()["items"]
        typed = [(m["role"], m["source"]) for m in lines if "life path number" in m["text"]]
        assert typed == [("user", "text"), ("assistant", "text")]


async def _the_page_shows_what_was_said_of_cut_lines(page: Any) -> None:
    """room.js, given the bot's transcript messages for two lines the user spoke over (as
    `voice_pipeline/spoken.py` sends them; the server side is tests/voice/test_spoken.py): the
    line cut after its first sentence shows that sentence in place, marked; the line cut before
    its first word is gone."""
    await page.evaluate(
        """() => {
        const say = (data) => onMessage(JSON.stringify(
            {label: "rtvi-ai", type: "server-message", data: {type: "transcript", ...data}}));
        say({role: "bot", text: "Seven is the seeker. It loves questions.", id: "cut-1"});
        say({role: "bot", text: "Never said.", id: "cut-2"});
        say({role: "bot", text: "Seven is the seeker.", id: "cut-1", interrupted: true});
        say({role: "bot", text: "", id: "cut-2", interrupted: true});
        }"""
    )
    shown = await page.evaluate("window.roomState.transcript.slice(-1)")
    assert shown == [
        {"role": "bot", "text": "Seven is the seeker.", "id": "cut-1", "interrupted": True}
    ]
    text = await page.inner_text("#transcript")
    assert "Numerologist: Seven is the seeker. \u2026 (interrupted)" in text
    assert "It loves questions." not in text
    assert "Never said." not in text
    assert await page.get_attribute("#transcript p[data-id='cut-1']", "class") == "bot interrupted"
