"""The room page with the live status and a rejoin, in Debian's chromium with the real bot.

The page follows GET .../events (status shown, the end seen by the page itself) and, when its
connection drops without Leave, rejoins through POST .../join: the same bot welcomes it back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from src.core.settings import Settings
from src.main import create_app
from src.voice_pipeline import speech
from tests.conftest import make_settings, register
from tests.fakes.loopback import serve_on_loopback
from tests.kit.browser import wait_until
from tests.voice.test_browser import CHROMIUM, CHROMIUM_FLAGS, HAVE_CHROMIUM, _free_port, _silence

pytestmark = pytest.mark.once


@pytest.fixture
async def served(clean_db: str, models: speech.SpeechModels) -> AsyncIterator[Settings]:
    port = _free_port()
    settings = make_settings(
        clean_db, public_base_url=f"http://127.0.0.1:{port}", rejoin_grace_seconds=30
    )
    async with serve_on_loopback(create_app(settings), port=port, lifespan="on"):
        yield settings


async def _signed_in_call(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    registered = await register(http, full_name="Ada Lovelace", birth_date=date(1984, 7, 5))
    token = str(registered["access_token"])
    started = await http.post(
        "/api/v1/conversations/start", headers={"Authorization": f"Bearer {token}"}
    )
    return token, started.json()


async def test_the_page_shows_the_status_and_rejoins_a_dropped_call(
    served: Settings, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    assert HAVE_CHROMIUM, "chromium is missing: `make test` installs it"
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        token, started = await _signed_in_call(http)
        flags = [
            *CHROMIUM_FLAGS,
            f"--use-file-for-fake-audio-capture={_silence(tmp_path / 'm.wav')}",
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            await page.goto(served.base_url)  # the start page's origin keeps the access token
            await page.evaluate(f"sessionStorage.setItem('access_token', '{token}')")
            await page.goto(
                f"{started['daily_room_url']}#token={started['daily_token']}"
                f"&conversation={started['conversation_id']}"
            )
            await wait_until(
                page, "window.roomState.conversation?.status === 'active'", within_ms=30_000
            )
            assert await page.inner_text("#conversation") == "active"
            await wait_until(
                page,
                "window.roomState.transcript.some(l => l.text.startsWith('Hello Ada'))",
                within_ms=30_000,
            )
            # The network drops (no Leave): the page sees its connection fail.
            await page.evaluate(
                "const pc = window.roomState.pc; pc.close(); pc.onconnectionstatechange()"
            )
            await wait_until(
                page,
                "window.roomState.transcript.some(l => l.text.startsWith('Welcome back, Ada'))",
                within_ms=40_000,
            )
            state = await page.evaluate("window.roomState")
            assert state["rejoins"] == 1
            assert state["state"] == "connected"
            greetings = [line for line in state["transcript"] if line["text"].startswith("Hello")]
            assert len(greetings) == 1
            await page.click("#leave")
            await wait_until(
                page, "window.roomState.conversation?.status === 'ended'", within_ms=10_000
            )
            assert await page.inner_text("#conversation") == "ended (user ended)"
            await browser.close()
