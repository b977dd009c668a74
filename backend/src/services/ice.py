"""The ICE servers (STUN/TURN) of a local room: what the user's page and the bot connect with.

One function answers for the page wherever the room is handed out (the start answer, the room
page's own request, a rejoin), so every answer carries the same kind of TURN credentials.
Daily rooms get none: Daily's client brings its own STUN/TURN.

The bot gets ICE_SERVERS only, never TURN credentials of its own: it runs on a server whose UDP
ports the TURN server reaches, so when the user relays, the relay sends straight to the bot's
host (or STUN-learnt) address. A bot-side allocation would cost a TURN round trip before every
answer (aiortc gathers every candidate before it answers), and a TURN outage would hold every
answer for aioice's gathering timeout (5 s).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from src.core.clock import utcnow
from src.core.ice import IceServer
from src.core.security import turn_credentials
from src.core.settings import Settings
from src.rooms.base import RoomProvider


def ice_servers_for(
    settings: Settings,
    provider: RoomProvider,
    conversation_id: uuid.UUID,
    room_expires_at: datetime,
    *,
    live: bool = True,
) -> list[IceServer]:
    """The ICE servers the user's page uses in the conversation's room.

    ICE_SERVERS as configured, and with TURN_SECRET, while the conversation is `live`, a TURN
    entry for TURN_URLS whose credentials (TURN REST API form) expire TURN_CREDENTIAL_TTL_SECONDS
    from now, or with the room if sooner. Short-lived on purpose: a TURN server refuses expired
    credentials for a new allocation, but keeps an allocation made with them alive (coturn
    checks the expiry when it authenticates a session, not at its refreshes), so a call outlives
    its credentials while a copy of them is of no use a few minutes after the call; a page
    renews them (GET .../ice-servers) only while the call is live. Empty for a provider whose
    client brings its own (Daily).
    """
    if not provider.uses_our_ice_servers:
        return []
    servers = list(settings.ice_servers)
    if live and settings.turn_secret and settings.turn_urls:
        expires_at = min(
            utcnow() + timedelta(seconds=settings.turn_credential_ttl_seconds), room_expires_at
        )
        username, credential = turn_credentials(settings.turn_secret, conversation_id, expires_at)
        servers.append(
            IceServer(urls=list(settings.turn_urls), username=username, credential=credential)
        )
    return servers
