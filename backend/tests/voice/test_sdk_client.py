"""A client team's page, made of pipecat's official client SDK from npm, joins a local room.

`make sdk-page` installs `@pipecat-ai/client-js` and `@pipecat-ai/small-webrtc-transport`
(`npm ci`) and bundles `sdk_page/index.js` with esbuild; nothing of it is committed but the
source and the lock file. Headless chromium opens the page on another origin (CORS, as a
client team's app would be), joins with nothing but the start answer's `daily_room_url` and
`daily_token`, hears the greeting, and stays connected past BOT_IDLE_TIMEOUT_SECONDS on the
SDK's own keep-alive.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from pipecat.processors.frameworks.rtvi.models import PROTOCOL_VERSION

from src.core.settings import Settings
from src.main import create_app
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually
from tests.ci import skip_loudly
from tests.conftest import auth, make_settings, register
from tests.fakes.loopback import serve_on_loopback
from tests.voice.test_browser import CHROMIUM, CHROMIUM_FLAGS, HAVE_CHROMIUM, _free_port, _silence

pytestmark = pytest.mark.once
REPO = Path(__file__).resolve().parents[3]
PAGE_DIR = Path(__file__).with_name("sdk_page")
BUNDLE = PAGE_DIR / "dist" / "bundle.js"
IDLE_TIMEOUT = 2.0
PAGE = """<!doctype html><meta charset="utf-8"><title>SDK client</title>
<audio id="bot-audio" autoplay></audio><script src="/bundle.js"></script>"""


@pytest.fixture(scope="session")
def bundle() -> bytes:
    """The SDK page's bundle, built by `make sdk-page` (a no-op when it is up to date)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        skip_loudly("node and npm are missing: the client-SDK page cannot be built.")
    built = subprocess.run(
        ["make", "-s", "sdk-page"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, f"make sdk-page failed:\n{built.stdout}\n{built.stderr}"
    return BUNDLE.read_bytes()


def _page_app(bundle: bytes) -> FastAPI:
    """The client team's own web server: the page and its bundle, on another origin."""
    page = FastAPI()

    @page.get("/")
    async def index() -> Response:
        return Response(PAGE, media_type="text/html")

    @page.get("/bundle.js")
    async def script() -> Response:
        return Response(bundle, media_type="text/javascript")

    return page


@pytest.fixture
async def served(
    clean_db: str, models: speech.SpeechModels, bundle: bytes
) -> AsyncIterator[tuple[Settings, str]]:
    """The app with the real bot, and the SDK page's origin (allowed by CORS_ORIGINS)."""
    port, page_port = _free_port(), _free_port()
    # A real server on loopback: Chrome refuses a routed page access to the loopback space.
    page_origin = f"http://127.0.0.1:{page_port}"
    settings = make_settings(
        clean_db,
        public_base_url=f"http://127.0.0.1:{port}",
        cors_origins=[page_origin],
        bot_idle_timeout_seconds=IDLE_TIMEOUT,
    )
    async with (
        serve_on_loopback(create_app(settings), port=port, lifespan="on"),
        serve_on_loopback(_page_app(bundle), port=page_port),
    ):
        yield settings, page_origin


async def _start(http: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    registered = await register(http, full_name="Ada Lovelace", birth_date=date(1984, 7, 5))
    token = registered["access_token"]
    started = await http.post("/api/v1/conversations/start", headers=auth(token))
    assert started.status_code == 200, started.text
    return token, started.json()


async def _status(http: httpx.AsyncClient, token: str, conversation_id: str) -> dict[str, Any]:
    got = await http.get(f"/api/v1/conversations/{conversation_id}", headers=auth(token))
    body: dict[str, Any] = got.json()
    return body


async def test_the_pipecat_client_sdk_joins_with_the_start_answer(
    served: tuple[Settings, str], tmp_path: Path
) -> None:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    assert HAVE_CHROMIUM, "chromium is missing: `make test` installs it"
    settings, origin = served
    flags = [*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={_silence(tmp_path / 'm.wav')}"]

    async with httpx.AsyncClient(base_url=settings.base_url) as http:
        token, started = await _start(http)
        conversation_id = started["conversation_id"]
        room_url = started["daily_room_url"]
        signalling: list[tuple[str, int]] = []
        console: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            page.on(
                "response",
                lambda r: (
                    signalling.append((r.request.method, r.status)) if r.url == room_url else None
                ),
            )
            await page.goto(f"{origin}/")
            # connect() resolves on the bot's RTVI bot-ready, the answer to the SDK's client-ready.
            page.on("console", lambda m: console.append(m.text))
            joined = page.evaluate(
                "([url, token]) => joinRoom(url, token)", [room_url, started["daily_token"]]
            )
            try:
                await asyncio.wait_for(joined, timeout=30)
            except (TimeoutError, PlaywrightError) as exc:
                said = "\n".join(console)
                pytest.fail(f"the SDK did not connect ({exc}); the page said:\n{said}")
            connected = time.monotonic()
            await page.wait_for_function(
                "window.sdk.lines.some(l => l.role === 'bot')", timeout=30_000
            )
            await page.wait_for_function(
                "window.sdk.events.includes('bot-started-speaking')"
                " && window.sdk.maxBotLevel > 0.02",
                timeout=30_000,
            )
            await page.wait_for_function("window.sdk.botOutput.length > 0", timeout=30_000)
            # Past the idle timeout: the SDK's own "ping: <ms>" keeps the conversation alive.
            await asyncio.sleep(max(0.0, connected + IDLE_TIMEOUT + 4 - time.monotonic()))
            sdk = await page.evaluate("window.sdk")
            live = await _status(http, token, conversation_id)
            await page.screenshot(path=str(tmp_path / "sdk.png"))
            await page.evaluate("leaveRoom()")
            await browser.close()
        print(
            f"\nSDK client: bot-ready {sdk['botReady']['version']}, heard the bot at level "
            f"{sdk['maxBotLevel']:.3f}; signalling {signalling}"
        )
        assert sdk["botReady"]["version"] == PROTOCOL_VERSION
        assert sdk["lines"][0]["role"] == "bot"
        assert sdk["lines"][0]["text"].startswith("Hello Ada!"), sdk["lines"]
        assert "Hello Ada" in " ".join(sdk["botOutput"]), sdk["botOutput"]
        assert sdk["errors"] == []
        assert sdk["transportState"] == "ready"
        assert live["status"] == "active", live
        # The offer was POSTed to the room URL, the ICE candidates PATCHed there, all taken.
        assert ("POST", 200) in signalling, signalling
        assert ("PATCH", 204) in signalling, signalling
        assert all(status < 300 for method, status in signalling if method != "OPTIONS")

        # The SDK hung up: the bot sees the peer leave and the conversation ends as user_left.
        async def ended() -> None:
            assert (await _status(http, token, conversation_id))["end_reason"] == "user_left"

        await eventually(ended, within=IDLE_TIMEOUT + 10)
        lines = await http.get(
            f"/api/v1/conversations/{conversation_id}/messages", headers=auth(token)
        )
        first = lines.json()["items"][0]
        assert (first["role"], first["text"]) == ("assistant", sdk["lines"][0]["text"])
