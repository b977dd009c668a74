"""A new user's call, as most voice tests begin one; the page's RTVI client-ready; a call whose
bot can no longer hear."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from src.voice_pipeline.rtvi import FATAL_ERROR_MESSAGE
from tests.api.conversation_helpers import eventually, row, start
from tests.conftest import register
from tests.voice.peer import Peer


async def new_call(
    client: httpx.AsyncClient, **user_fields: Any
) -> tuple[dict[str, Any], dict[str, Any], Peer]:
    """A new user registered (with `user_fields`), their conversation started (200) and their
    peer connected to its room: (the registration's answer, the start's answer, the peer).
    The caller closes the peer; a peer that fails to connect is closed here."""
    user = await register(client, **user_fields)
    started = await start(client, user["access_token"])
    assert started.status_code == 200, started.text
    body: dict[str, Any] = started.json()
    peer = Peer()
    try:
        await peer.connect(client, body["daily_room_url"], body["daily_token"])
    except BaseException:
        await peer.close()
        raise
    return user, body, peer


async def client_ready(peer: Peer) -> None:
    """Say RTVI's client-ready once the peer's data channel is open, as the room page does."""

    def opened() -> None:
        assert peer.channel.readyState == "open", peer.channel.readyState

    await eventually(opened, within=10)
    peer.send_rtvi("client-ready", {"version": "2.1.0", "about": {"library": "test peer"}})


async def told_once(peer: Peer) -> None:
    """The page was told the bot stopped, in the one plain sentence, once (no provider's words)."""
    errors = [m["data"] for m in peer.rtvi_of("error")]
    assert errors == [{"error": FATAL_ERROR_MESSAGE, "fatal": True}], errors


async def a_call_the_bot_cannot_hear(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A new user's call whose bot can no longer hear (its recogniser refused): once the page
    says client-ready, the call fails (`bot_error`) and the page is told once; the peer then
    hangs up."""
    _user, body, peer = await new_call(client)

    async def ended() -> None:
        stored = await row(app, body["conversation_id"])
        assert (stored.status, stored.end_reason) == ("failed", "bot_error")

    try:
        await client_ready(peer)
        await eventually(ended, within=30)
        await eventually(lambda: told_once(peer), within=10)
    finally:
        await peer.close()
