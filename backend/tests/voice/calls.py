"""A new user's call, as most voice tests begin one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conversation_helpers import start
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
