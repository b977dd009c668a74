"""The room page behind a network that lets nothing but a TURN relay through.

Chromium opens the room page as in test_browser.py; an init script makes every
RTCPeerConnection relay-only (what a symmetric NAT or a UDP-blocking firewall leaves a browser),
so the page connects only if it asked for its ICE servers and got TURN credentials coturn
accepts. coturn runs on loopback (tests/coturn.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from src.core.settings import Settings
from src.main import create_app
from src.voice_pipeline import speech
from tests.api.conversation_helpers import eventually
from tests.conftest import auth, make_settings, register
from tests.coturn import TurnServer, assert_relayed, coturn
from tests.fakes.loopback import serve_on_loopback
from tests.kit.browser import wait_until
from tests.voice.test_browser import CHROMIUM, CHROMIUM_FLAGS, HAVE_CHROMIUM, _free_port, _silence

pytestmark = pytest.mark.once

# Test-side only: the page's own code is unchanged, the browser is made to relay everything.
RELAY_ONLY = """
const Native = window.RTCPeerConnection;
window.RTCPeerConnection = function (config) {
  return new Native({ ...(config || {}), iceTransportPolicy: "relay" });
};
window.RTCPeerConnection.prototype = Native.prototype;
"""


@pytest.fixture
def turn_server(tmp_path: Path) -> Iterator[TurnServer]:
    with coturn(tmp_path) as server:
        yield server


@pytest.fixture
async def served(
    clean_db: str, models: speech.SpeechModels, turn_server: TurnServer
) -> AsyncIterator[Settings]:
    port = _free_port()
    settings = make_settings(
        clean_db,
        public_base_url=f"http://127.0.0.1:{port}",
        turn_urls=[turn_server.turn_url],
        turn_secret=turn_server.secret,
    )
    async with serve_on_loopback(create_app(settings), port=port, lifespan="on"):
        yield settings


async def test_a_relay_only_browser_hears_the_greeting_through_coturn(
    served: Settings, turn_server: TurnServer, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    assert HAVE_CHROMIUM, "chromium is missing: `make test` installs it"
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        user = await register(http, full_name="Ada Lovelace")
        started = await http.post("/api/v1/conversations/start", headers=auth(user["access_token"]))
        assert started.status_code == 200, started.text
        body = started.json()
        flags = [
            *CHROMIUM_FLAGS,
            f"--use-file-for-fake-audio-capture={_silence(tmp_path / 'm.wav')}",
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
            page = await browser.new_page()
            await page.add_init_script(RELAY_ONLY)
            await page.goto(f"{body['daily_room_url']}#token={body['daily_token']}")
            await wait_until(
                page, "window.roomState.transcript.some(l => l.role === 'bot')", within_ms=30_000
            )
            await wait_until(page, "window.roomState.maxBotLevel > 0.02", within_ms=30_000)
            seen = await page.evaluate(
                """({
                    state: window.roomState.state,
                    policy: window.roomState.pc.getConfiguration().iceTransportPolicy,
                    servers: window.roomState.pc.getConfiguration().iceServers,
                    offer: window.roomState.pc.localDescription.sdp,
                    transcript: window.roomState.transcript,
                })"""
            )
            await page.click("#leave")
            await wait_until(page, "window.roomState.state === 'ended'", within_ms=10_000)
            await browser.close()
    assert seen["state"] == "connected"
    assert seen["policy"] == "relay"
    assert seen["transcript"][0]["text"].startswith("Hello Ada!")
    (turn_entry,) = body["ice_servers"]
    # The page's own short-lived TURN credentials for this conversation (made when it asked,
    # so they may expire a second later than the start answer's).
    (page_entry,) = seen["servers"]
    assert page_entry["username"].split(":")[1] == turn_entry["username"].split(":")[1]
    assert int(page_entry["username"].split(":")[0]) >= int(turn_entry["username"].split(":")[0])
    candidates = [line for line in seen["offer"].splitlines() if " typ " in line]
    assert candidates, "the page offered no candidate"
    assert all(" typ relay" in line for line in candidates), candidates

    # The page leaves as soon as it has heard the bot: about a second of the greeting (50 Opus
    # packets a second) has gone through coturn by then, not the whole of it.
    await eventually(
        lambda: assert_relayed(turn_server, page_entry["username"], packets=25), within=20
    )
